from django import forms

from hub.models import AccessToken, Organization, Visibility


class DatasetForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none(), to_field_name="slug")
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=100, help_text="Short identifier used in URLs, e.g. product-reviews.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    license = forms.CharField(max_length=100, help_text="SPDX id such as CC-BY-4.0, or LicenseRef-<name>.")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PRIVATE)
    file = forms.FileField(help_text="CSV or TSV with a header row.")
    text_field = forms.CharField(max_length=100, initial="text", help_text="Column holding the text.")
    label_field = forms.CharField(max_length=100, initial="label", help_text="Column holding the label.")
    group_field = forms.CharField(
        max_length=100, required=False, help_text="Optional column of groups, used for fairness."
    )
    validation_fraction = forms.FloatField(min_value=0.0, max_value=0.5, initial=0.1)
    test_fraction = forms.FloatField(min_value=0.0, max_value=0.5, initial=0.1)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=42)

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        preselect_single(self.fields["organization"])


def preselect_single(field: forms.ModelChoiceField) -> None:
    """When there is only one organization to choose, choose it."""
    choices = list(field.queryset[:2])
    if len(choices) == 1:
        field.initial = choices[0]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. ci-pipeline.")
    scope = forms.ChoiceField(choices=AccessToken.Scope.choices, initial=AccessToken.Scope.READ)
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(),
        required=False,
        empty_label="All my organizations",
        help_text="Restrict the token to one organization.",
    )
    expires_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Optional expiry.",
    )

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations


def add_service_errors(form: forms.Form, error) -> None:
    """Show a service's ValidationError on the form fields it names (else at the top of the form)."""
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)
