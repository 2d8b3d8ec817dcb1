"""Personal access token pages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from hub import selectors
from hub.access import signed_in
from hub.forms import TokenForm, add_service_errors
from hub.models import AccessToken
from hub.services.tokens import issue_token, revoke_token


@signed_in
def tokens(request):
    organizations = selectors.organizations_of(request.user)
    form = TokenForm(request.POST or None, organizations=organizations)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            issued = issue_token(
                user=request.user,
                name=data["name"],
                scope=data["scope"],
                organization=data["organization"],
                expires_at=data["expires_at"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            new_secret = issued.secret
            form = TokenForm(organizations=organizations)
    context = {
        "form": form,
        "new_secret": new_secret,
        "tokens": AccessToken.objects.filter(user=request.user).select_related("organization"),
    }
    return render(request, "hub/tokens.html", context)


@signed_in
@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(AccessToken, pk=pk, user=request.user)
    revoke_token(token)
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("hub:tokens")
