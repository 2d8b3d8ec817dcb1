"""Every route of the site has an explicit access decision, and every route open to anyone is listed here.

A decision is one of:
- a ``hub.access`` decorator on the view (pages, Hugging Face endpoints, the sign-in views and the schema);
- ``permission_classes`` declared on a REST API view class (or a project base class), never the default
  of the REST_FRAMEWORK setting;
- ``AdminSite.admin_view`` for the admin, recognised by what it does: an anonymous request is sent to the
  admin's sign-in page before the view runs.

Declarations are checked by what they do where that needs no database: ``signed_in`` views send an
anonymous visitor to the sign-in page, Hugging Face write endpoints answer 401 without a token, and signed
LFS URLs answer 403 without a signature.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, include, path, reverse
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from hub.access import Decision, decision_of, public, signed_in

# Routes anyone may call, anonymous included, each with the reason. An entry that names a route which no
# longer exists, or which is no longer open, fails the test: the list says what is public, no more.
PUBLIC_ROUTES: dict[str, str] = {
    # Sign-in, and the API's description.
    "login": "the sign-in form",
    "logout": "signing out needs no permission",
    "admin:login": "the admin's sign-in form",
    "schema": "the OpenAPI description of the API: no data",
    "swagger-ui": "the API documentation page: no data",
    "api-root": "the index of the API's collections: addresses only",
    # Pages: what they show is read through hub.selectors, and hidden artifacts answer 404.
    "hub:search": "search results come from the selectors of what the viewer may see",
    "hub:dataset-list": "lists visible datasets only",
    "hub:model-list": "lists visible models only",
    "hub:dataset": "a hidden dataset answers 404",
    "hub:model": "a hidden model answers 404",
    "hub:model-version": "a hidden model's versions answer 404",
    "hub:organization": "organizations are public; members and hidden artifacts are shown to members only",
    "hub:dataset-file": "downloads of visible, usable files only; hidden files answer 404",
    "hub:model-file": "downloads of visible, usable files only; hidden files answer 404",
    "governance:card": "the model card of a visible version; hidden versions answer 404",
    "governance:card-readme": "the README.md of a visible version; hidden versions answer 404",
    "governance:policy-list": "the policies governing artifacts the viewer may see",
    "governance:policy": "a policy the viewer may see; others answer 404",
    # The REST API's reads (IsAuthenticatedOrReadOnly): querysets come from the selectors.
    "dataset-list": "visible datasets",
    "dataset-detail": "a visible dataset; hidden ones answer 404",
    "dataset-datasheet": "the datasheet of a visible dataset",
    "dataset-version-list": "versions of visible datasets",
    "dataset-version-detail": "a version of a visible dataset",
    "model-list": "visible models",
    "model-detail": "a visible model; hidden ones answer 404",
    "model-aliases": "the aliases of a visible model",
    "model-version-list": "versions of visible models",
    "model-version-detail": "a version of a visible model",
    "model-card-detail": "the card of a visible model version",
    "model-card-readme": "the README.md of a visible model version",
    "policy-list": "the policies the viewer may see",
    "policy-detail": "a policy the viewer may see",
    "policy-use-tags": "the vocabulary of use tags: no data",
    # The Hugging Face read protocol: the caller is authenticated by hub.hf.auth, repositories are found
    # through hub.permissions, and hidden ones answer 404 (RepoNotFound).
    "hf-model-info": "a visible model repository",
    "hf-model-revision-info": "a visible model repository at a revision",
    "hf-model-tree": "the files of a visible model repository",
    "hf-model-paths-info": "the files of a visible model repository",
    "hf-model-refs": "the revisions of a visible model repository",
    "hf-model-commits": "the history of a visible model repository",
    "hf-model-resolve": "a file of a visible, usable model repository",
    "hf-dataset-info": "a visible dataset repository",
    "hf-dataset-revision-info": "a visible dataset repository at a revision",
    "hf-dataset-tree": "the files of a visible dataset repository",
    "hf-dataset-paths-info": "the files of a visible dataset repository",
    "hf-dataset-refs": "the revisions of a visible dataset repository",
    "hf-dataset-commits": "the history of a visible dataset repository",
    "hf-dataset-resolve": "a file of a visible, usable dataset repository",
    "hf-commit-page": "redirects to the page of a visible version",
    "hf-validate-yaml": "checks the README.md text it is sent: no data",
    "hf-xet-write-token": "always refuses: Xet is not spoken here",
    "hf-unsupported-upload": "always refuses: only models are uploaded through this API",
    "hub.hf.read_views.unknown_endpoint": "always answers a coded 404",
    "hub.api.exceptions.api_not_found": "always answers the API's JSON 404",
}


@dataclass(frozen=True)
class Route:
    name: str  # the namespaced URL name, or the view's dotted path when the route has none
    pattern: str
    callback: Callable
    default_args: Mapping[str, object]
    parameters: tuple[str, ...]  # the names the pattern captures, given dummy values when probing
    admin_namespace: str | None  # the instance namespace of the admin site the route belongs to


@dataclass(frozen=True)
class Verdict:
    decision: str | None  # None: nobody decided who may call this view
    open_to_anyone: bool  # an anonymous caller gets past the decision
    problem: str | None = None  # a declaration the view does not live up to


def _captured(entry: URLPattern | URLResolver) -> tuple[str, ...]:
    return tuple(entry.pattern.regex.groupindex)


def routes_of(
    patterns: Iterable,
    prefix: str = "",
    namespace: str | None = None,
    admin: str | None = None,
    captured: tuple[str, ...] = (),
) -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace])) or None
            inner_admin = inner if entry.app_name == "admin" else admin
            yield from routes_of(
                entry.url_patterns,
                prefix + str(entry.pattern),
                inner,
                inner_admin,
                captured + _captured(entry),
            )
        elif isinstance(entry, URLPattern):
            callback = entry.callback
            if entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
            else:
                name = f"{callback.__module__}.{callback.__qualname__}"
            parameters = captured + _captured(entry)
            yield Route(name, prefix + str(entry.pattern), callback, entry.default_args, parameters, admin)


# Probes: an anonymous request, which a decision must turn away before the view runs (no database).


def _anonymous(method: str, url: str = "/probe/", **headers: str):
    request = getattr(RequestFactory(), method.lower())(url, **headers)
    request.user = AnonymousUser()
    return request


def _probe(route: Route, methods: Iterable[str] = ("GET", "POST", "PUT")) -> HttpResponse | None:
    """The answer to the first method the view does not refuse with 405; None when the view itself ran and
    failed (it needed arguments or the database: no decision stopped the anonymous request)."""
    response = None
    for method in methods:
        try:
            arguments = {**dict.fromkeys(route.parameters, "1"), **route.default_args}
            response = route.callback(_anonymous(method), **arguments)
        except Exception:
            return None
        if response.status_code != 405:
            return response
    return response


def _redirects_to(response: HttpResponse | None, url: str) -> bool:
    return response is not None and response.status_code == 302 and response["Location"].startswith(url)


def declared_permission_classes(callback: Callable) -> list | None:
    """The permission classes a REST API view declares itself; None when it only inherits the default."""
    declared = getattr(callback, "initkwargs", {}).get("permission_classes")
    if declared is not None:
        return list(declared)
    for klass in callback.cls.__mro__:
        if "permission_classes" in vars(klass):
            value = vars(klass)["permission_classes"]
            # rest_framework's own classes carry the REST_FRAMEWORK default, and so does @api_view
            # without @permission_classes (it copies APIView's list).
            if klass.__module__.startswith("rest_framework.") or value is APIView.permission_classes:
                return None
            return list(value)
    return None


def _api_methods(callback: Callable) -> list[str]:
    actions = getattr(callback, "actions", None)
    names = (
        actions.keys() if actions else [m for m in callback.cls.http_method_names if hasattr(callback.cls, m)]
    )
    return [name.upper() for name in names if name not in ("options", "head")]


def _api_verdict(callback: Callable) -> Verdict:
    classes = declared_permission_classes(callback)
    if classes is None:
        return Verdict(None, open_to_anyone=False)
    view = callback.cls(**callback.initkwargs)
    permissions = [permission() for permission in classes]
    open_to_anyone = any(
        all(p.has_permission(Request(_anonymous(method)), view) for p in permissions)
        for method in _api_methods(callback)
    )
    return Verdict("api: " + ", ".join(c.__name__ for c in classes), open_to_anyone)


def _admin_verdict(route: Route, public_routes: Mapping[str, str]) -> Verdict:
    # admin_view checks has_permission before the view runs and sends anonymous visitors to the admin's login.
    login = reverse(f"{route.admin_namespace}:login")
    if _redirects_to(_probe(route, ("GET",)), login):
        return Verdict("staff", open_to_anyone=False)
    if route.name in public_routes:
        return Verdict("public (admin)", open_to_anyone=True)
    return Verdict(None, open_to_anyone=True)


def _marked_verdict(route: Route, decision: Decision) -> Verdict:
    problem = None
    if decision == Decision.SIGNED_IN:
        if not _redirects_to(_probe(route), resolve_url(settings.LOGIN_URL)):
            problem = "is marked signed_in but does not send an anonymous visitor to the sign-in page"
    elif decision == Decision.HF_WRITE_TOKEN:
        response = _probe(route, ("POST", "PUT", "GET"))
        if response is None or response.status_code != 401:
            problem = "is marked hf_write_token but does not answer 401 to a caller without a token"
    elif decision == Decision.SIGNED_UPLOAD_URL:
        response = _probe(route, ("PUT", "POST"))
        if response is None or response.status_code != 403:
            problem = "is marked signed_upload_url but does not answer 403 to a request without a signature"
    return Verdict(str(decision), decision in (Decision.PUBLIC, Decision.HF_CALLER), problem)


def verdict_of(route: Route, public_routes: Mapping[str, str]) -> Verdict:
    decision = decision_of(route.callback)
    if decision is not None:
        return _marked_verdict(route, decision)
    if isinstance(getattr(route.callback, "cls", None), type) and issubclass(route.callback.cls, APIView):
        return _api_verdict(route.callback)
    if route.admin_namespace is not None:
        return _admin_verdict(route, public_routes)
    return Verdict(None, open_to_anyone=False)


def access_problems(routes: Iterable[Route], public_routes: Mapping[str, str]) -> list[str]:
    """What is wrong with the routes' access decisions and with the list of public routes."""
    problems = []
    open_names: set[str] = set()
    names: set[str] = set()
    for route in routes:
        names.add(route.name)
        verdict = verdict_of(route, public_routes)
        where = f"{route.name} ({route.pattern})"
        if verdict.decision is None:
            problems.append(f"{where} has no access decision")
        if verdict.problem:
            problems.append(f"{where} {verdict.problem}")
        if verdict.open_to_anyone:
            open_names.add(route.name)
            if verdict.decision is not None and route.name not in public_routes:
                problems.append(f"{where} is open to anyone ({verdict.decision}) but not listed as public")
    for name in public_routes:
        if name not in names:
            problems.append(f"listed as public, but no route is named {name}")
        elif name not in open_names:
            problems.append(f"listed as public, but {name} is no longer open to anyone")
    return problems


def site_routes() -> list[Route]:
    return list(routes_of(import_module(settings.ROOT_URLCONF).urlpatterns))


# The site -----------------------------------------------------------------------------------------------


def test_every_route_has_an_access_decision_and_every_public_route_is_listed():
    routes = site_routes()
    assert len(routes) > 100  # the walk reached the API, the HF endpoints and the admin's model pages
    problems = access_problems(routes, PUBLIC_ROUTES)
    assert not problems, "\n".join(problems)


def test_the_admin_is_staff_only_except_its_sign_in_page():
    admin_routes = [route for route in site_routes() if route.admin_namespace == "admin"]
    # The review page is a custom admin URL: it is wrapped by hand, so it is checked like the others.
    assert "admin:governance_publicationrequest_decide" in {route.name for route in admin_routes}
    verdicts = {route.name: verdict_of(route, PUBLIC_ROUTES).decision for route in admin_routes}
    assert verdicts.pop("admin:login") == "public (admin)"
    assert set(verdicts.values()) == {"staff"}


# The checker catches what it must ------------------------------------------------------------------------


def plain_view(request):
    return HttpResponse("secret")


def fake_signed_in_view(request):
    return HttpResponse("secret")


fake_signed_in_view.access_decision = "signed_in"  # a marker without login_required


class DefaultPermissionsView(APIView):
    def get(self, request):
        return HttpResponse("secret")


class DeclaredPermissionsView(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return HttpResponse("ok")


class OpenAPIView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return HttpResponse("ok")


def _problems(patterns: list, public_routes: Mapping[str, str] | None = None) -> list[str]:
    return access_problems(routes_of(patterns), public_routes or {})


def test_a_view_without_decision_is_reported():
    problems = _problems([path("leak/", plain_view, name="leak")])
    assert problems == ["leak (leak/) has no access decision"]


def test_a_rest_api_view_relying_on_the_default_permissions_is_reported():
    problems = _problems([
        path("default/", DefaultPermissionsView.as_view(), name="default"),
        path("declared/", DeclaredPermissionsView.as_view(), name="declared"),
    ])  # fmt: skip
    assert problems == ["default (default/) has no access decision"]


def test_a_function_api_view_without_permission_classes_is_reported():
    from rest_framework.decorators import api_view, permission_classes

    def undecided(request):
        return HttpResponse("secret")

    def decided(request):
        return HttpResponse("ok")

    patterns = [
        path("u/", api_view(["GET"])(undecided), name="u"),
        path("d/", api_view(["GET"])(permission_classes([IsAuthenticated])(decided)), name="d"),
    ]
    assert _problems(patterns) == ["u (u/) has no access decision"]


def test_a_public_view_missing_from_the_list_is_reported():
    patterns = [
        path("open/", public(plain_view), name="open"),
        path("api-open/", OpenAPIView.as_view(), name="api-open"),
        path("closed/", signed_in(plain_view), name="closed"),
    ]
    assert _problems(patterns, {"open": "fine", "api-open": "fine"}) == []
    problems = _problems(patterns)
    assert problems == [
        "open (open/) is open to anyone (public) but not listed as public",
        "api-open (api-open/) is open to anyone (api: AllowAny) but not listed as public",
    ]


def test_stale_entries_of_the_public_list_are_reported():
    patterns = [path("closed/", signed_in(plain_view), name="closed")]
    problems = _problems(patterns, {"closed": "was public once", "gone": "was removed"})
    assert problems == [
        "listed as public, but closed is no longer open to anyone",
        "listed as public, but no route is named gone",
    ]


def test_a_signed_in_marker_without_login_required_is_reported(settings):
    problems = _problems([path("fake/", fake_signed_in_view, name="fake")])
    assert problems == [
        "fake (fake/) is marked signed_in but does not send an anonymous visitor to the sign-in page"
    ]


class LeakyAdminSite(AdminSite):
    """An admin site with one custom view its author forgot to wrap in admin_view."""

    def get_urls(self):
        return [path("export/", self.export, name="export"), *super().get_urls()]

    def export(self, request):
        return HttpResponse("every user's e-mail address")


def test_an_admin_view_without_admin_view_is_reported(settings):
    leaky = LeakyAdminSite(name="leaky")
    urlconf = types.ModuleType("leaky_urls")
    urlconf.urlpatterns = [path("leaky/", leaky.urls), path("login/", public(plain_view), name="login")]
    settings.ROOT_URLCONF = urlconf
    problems = _problems(urlconf.urlpatterns, {"leaky:login": "its sign-in form", "login": "sign-in"})
    assert problems == ["leaky:export (leaky/export/) has no access decision"]


def test_an_included_urlconf_is_walked_with_its_namespace():
    included = types.ModuleType("included_urls")
    included.app_name = "inner"
    included.urlpatterns = [path("x/", plain_view, name="x")]
    routes = list(routes_of([path("outer/", include(included))]))
    assert [(route.name, route.pattern) for route in routes] == [("inner:x", "outer/x/")]
