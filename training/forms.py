from django import forms
from django.conf import settings

from governance.policy_engine import declarable_uses
from hub.forms import preselect_single
from hub.models import DatasetVersion, ModelVersion, Organization
from training.engine.config import HYPERPARAMETERS, Hyperparameter
from training.models import ComputePool


def _field_for(spec: Hyperparameter) -> forms.Field:
    common = {"required": False, "initial": spec.default, "help_text": spec.help}
    if spec.kind == "choice":
        return forms.ChoiceField(choices=[(c, c) for c in spec.choices], **common)
    if spec.kind == "text":
        return forms.CharField(**common)
    if spec.kind == "int":
        return forms.IntegerField(min_value=spec.minimum, max_value=spec.maximum, **common)
    return forms.FloatField(min_value=spec.minimum, max_value=spec.maximum, **common)


class RunForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none(), to_field_name="slug")
    base_version = forms.ModelChoiceField(queryset=ModelVersion.objects.none(), label="Base model version")
    dataset_version = forms.ModelChoiceField(queryset=DatasetVersion.objects.none(), label="Dataset version")
    output_model = forms.SlugField(
        required=False, help_text="Model that receives the new version (default: base-dataset)."
    )
    queue = forms.ChoiceField(choices=())
    pool = forms.ModelChoiceField(
        queryset=ComputePool.objects.none(),
        to_field_name="queue",
        required=False,
        label="Compute pool",
        help_text="Train on a pool your organization owns or may use, instead of the queue.",
    )
    priority = forms.IntegerField(
        min_value=0, max_value=9, initial=5, required=False, help_text="0 lowest, 9 highest."
    )
    intended_use = forms.MultipleChoiceField(
        choices=(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the new model is for; the inputs' policies may prohibit some uses.",
    )
    license = forms.CharField(
        required=False,
        help_text="Licence of a new output model, an SPDX id (default: the base model's licence).",
    )

    def __init__(self, *args, organizations, base_versions, dataset_versions, pools=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        preselect_single(self.fields["organization"])
        self.fields["base_version"].queryset = base_versions
        self.fields["dataset_version"].queryset = dataset_versions
        self.fields["queue"].choices = [(q, q) for q in settings.AGORA_RUN_QUEUES]
        self.fields["intended_use"].choices = declarable_uses()
        if pools is not None:
            self.fields["pool"].queryset = pools
        for spec in HYPERPARAMETERS:
            self.fields[spec.name] = _field_for(spec)

    def hyperparameters(self) -> dict:
        return {
            spec.name: self.cleaned_data[spec.name]
            for spec in HYPERPARAMETERS
            if self.cleaned_data.get(spec.name) not in (None, "")
        }

    def hyperparameter_fields(self):
        return [self[spec.name] for spec in HYPERPARAMETERS]


class EvaluationForm(forms.Form):
    model_version = forms.ModelChoiceField(queryset=ModelVersion.objects.none(), label="Model version")
    dataset_version = forms.ModelChoiceField(queryset=DatasetVersion.objects.none(), label="Dataset version")
    split = forms.ChoiceField(
        choices=[("test", "Test"), ("validation", "Validation"), ("train", "Train")],
        initial="test",
        help_text="Score on held-out data (test) unless you mean to measure something else.",
    )

    def __init__(self, *args, model_versions, dataset_versions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model_version"].queryset = model_versions
        self.fields["dataset_version"].queryset = dataset_versions


class PoolForm(forms.Form):
    slug = forms.SlugField(max_length=50, help_text="Its queue becomes pool-<organization>-<slug>.")
    name = forms.CharField(max_length=200, required=False)


class PoolShareForm(forms.Form):
    shared_with_all = forms.BooleanField(required=False, label="Every organization may use it")
    shared_with = forms.ModelMultipleChoiceField(
        queryset=Organization.objects.order_by("slug"),
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Organizations that may use it",
    )
