from django import forms

from hub import datasheets
from hub.models import AccessToken, Organization, Role, Visibility


class DatasetForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none(), to_field_name="slug")
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=100, help_text="Short identifier used in URLs, e.g. product-reviews.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    license = forms.CharField(max_length=100, help_text="SPDX id such as CC-BY-4.0, or LicenseRef-<name>.")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PRIVATE)
    file = forms.FileField(
        required=False,
        help_text="One .csv, .tsv, .jsonl or .parquet file; the server splits it. Or give the splits below.",
    )
    train_file = forms.FileField(required=False, help_text="Given splits: the train file.")
    validation_file = forms.FileField(required=False, help_text="Required with a train file.")
    test_file = forms.FileField(required=False, help_text="Optional.")
    text_field = forms.CharField(max_length=100, initial="text", help_text="Column holding the text.")
    label_field = forms.CharField(max_length=100, initial="label", help_text="Column holding the label.")
    group_field = forms.CharField(
        max_length=100, required=False, help_text="Optional column of groups, used for fairness."
    )
    validation_fraction = forms.FloatField(min_value=0.0, max_value=0.5, initial=0.1)
    test_fraction = forms.FloatField(min_value=0.0, max_value=0.5, initial=0.1)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=42)

    def __init__(self, *args, organizations=None, version_only=False, **kwargs):
        super().__init__(*args, **kwargs)
        if version_only:  # a new version of an existing dataset: file, schema and split only
            for name in ("organization", "name", "slug", "description", "license", "visibility"):
                del self.fields[name]
            return
        self.fields["organization"].queryset = organizations
        preselect_single(self.fields["organization"])


class DatasheetForm(forms.Form):
    """One textarea per section of the datasheet, its guiding questions as help text."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for section in datasheets.SECTIONS:
            self.fields[section.key] = forms.CharField(
                label=section.title,
                required=False,
                max_length=datasheets.MAX_SECTION_CHARS,
                widget=forms.Textarea(attrs={"rows": 4}),
                help_text=" ".join(section.questions),
            )


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


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=64, required=False, help_text="Used in URLs; made from the name if empty."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, allow_empty_file=True, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class CheckpointUploadForm(forms.Form):
    files = MultipleFileField(
        required=False,
        help_text="Select every file of the model directory (config.json, *.safetensors, tokenizer files).",
    )
    archive = forms.FileField(
        required=False, help_text="Or one .tar, .tar.gz or .zip of the directory (keeps sub-folders)."
    )


class ModelCreateForm(CheckpointUploadForm):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none(), to_field_name="slug")
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=100, help_text="Short identifier used in URLs, e.g. minilm-l6.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    license = forms.CharField(max_length=100, help_text="SPDX id such as Apache-2.0, or LicenseRef-<name>.")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PRIVATE)
    task = forms.CharField(max_length=64, initial="text-classification")

    field_order = ["organization", "name", "slug", "description", "license", "visibility", "task"]

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        preselect_single(self.fields["organization"])
