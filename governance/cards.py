"""The model card: the nine sections of Mitchell et al., "Model Cards for Model Reporting" (FAT* 2019),
written out as a Hugging Face ``README.md`` (YAML front matter, then Markdown), and how complete it is.

Owners write prose in any section; intended use, factors, ethical considerations and caveats are
theirs alone. The other sections are generated from the records: the version and its lineage, its
training dataset version, and its succeeded evaluation reports. Owner prose is shown above the
generated content.

Completeness ("Card completeness" in the scores specification) = done items / items. The items are
the nine sections (filled by owner prose that ``hub.datasheets.is_filled`` accepts, or, for a
generated section, by records that yield real content) and four machine checks: a valid licence id,
``base_model`` for fine-tunes (done when not applicable), training datasets resolvable to hub
datasets, and at least one structured evaluation result.

Everything above ``card_of`` is a pure function of model instances and dicts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import yaml
from django.core.exceptions import ValidationError

from governance.models import EvaluationReport, JobStatus, ModelCard
from governance.selectors import evaluations_of
from hub.datasheets import (
    MIN_PROSE_CHARS,
    Completeness,
    Item,
    dataset_completeness,
    is_filled,
)
from hub.datasheets import clean_sections as clean_card_sections
from hub.licenses import normalize_license
from hub.models import Dataset, DatasetVersion, ModelVersion, Split
from hub.permissions import Viewer, artifact_visible_q

# Sections -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    questions: tuple[str, ...]
    # The records that fill the section; empty for a section only the owners can write.
    generated_from: str = ""

    @property
    def generated(self) -> bool:
        return bool(self.generated_from)


SECTIONS = (
    Section("model_details", "Model details", (
        "Who developed the model, when, and which version is it?",
        "What type of model is it, and how was it trained (algorithm, parameters, fairness constraints)?",
        "Where can readers find more (paper, citation), under what licence, and where do questions go?",
    ), "the version's architecture, parameters, lineage and training run"),
    Section("intended_use", "Intended use", (
        "What are the primary intended uses, and who are the intended users?",
        "Which uses are out of scope or should be avoided?",
    )),
    Section("factors", "Factors", (
        "Which groups, instruments or environments are relevant to the model's performance?",
        "Which of these factors were evaluated, and why those?",
    )),
    Section("metrics", "Metrics", (
        "Which performance measures are reported, and why were they chosen?",
        "Which decision thresholds are used, and how is the variation of the measures estimated?",
    ), "the evaluation reports, or the validation metrics of the training run"),
    Section("evaluation_data", "Evaluation data", (
        "Which datasets was the model evaluated on, and why those?",
        "How was the evaluation data preprocessed?",
    ), "the evaluation reports"),
    Section("training_data", "Training data", (
        "What data was the model trained on, and how is it distributed over the factors above?",
    ), "the training dataset version"),
    Section("quantitative_analyses", "Quantitative analyses", (
        "How does the model perform on each factor (unitary results)?",
        "How does it perform on combinations of factors (intersectional results)?",
    ), "a succeeded evaluation report"),
    Section("ethical_considerations", "Ethical considerations", (
        "Does the model use sensitive data? Is it meant to inform decisions central to people's lives?",
        "What risks and harms may it cause, and what was done to mitigate them?",
    )),
    Section("caveats_and_recommendations", "Caveats and recommendations", (
        "Which concerns remain that the other sections do not cover?",
        "Were relevant groups missing from the evaluation data? What do you recommend to users?",
    )),
)  # fmt: skip
SECTION_KEYS = tuple(section.key for section in SECTIONS)
SECTIONS_BY_KEY = {section.key: section for section in SECTIONS}


def clean_sections(sections: Any) -> dict[str, str]:
    """Validate the owners' prose: known section keys only, text of at most MAX_SECTION_CHARS characters.

    Raises a ValidationError naming each offending key; empty texts are dropped.
    """
    if not isinstance(sections, Mapping):
        raise ValidationError({"sections": "must be an object of section key → Markdown text"})
    return clean_card_sections(sections, SECTION_KEYS, card="model card")


# Generated content: a few kinds of block, written out as Markdown or as HTML by the card page ------------


@dataclass(frozen=True)
class Link:
    text: str
    url: str

    def __str__(self) -> str:
        return self.text


Cell = str | Link


@dataclass(frozen=True)
class Facts:
    items: tuple[tuple[str, Cell], ...]
    kind: ClassVar[str] = "facts"


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    caption: str = ""
    kind: ClassVar[str] = "table"


@dataclass(frozen=True)
class Text:
    text: str
    kind: ClassVar[str] = "text"


Block = Facts | Table | Text


def _cell_markdown(cell: Cell) -> str:
    text = f"[{cell.text}]({cell.url})" if isinstance(cell, Link) else str(cell)
    return text.replace("|", "\\|").replace("\n", " ")


def blocks_markdown(blocks: Sequence[Block]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Facts):
            parts.append("\n".join(f"- **{label}:** {_cell_markdown(value)}" for label, value in block.items))
        elif isinstance(block, Table):
            lines = [f"**{block.caption}**", ""] if block.caption else []
            lines.append("| " + " | ".join(block.headers) + " |")
            lines.append("|" + "|".join(" --- " for _ in block.headers) + "|")
            lines += ["| " + " | ".join(_cell_markdown(cell) for cell in row) + " |" for row in block.rows]
            parts.append("\n".join(lines))
        else:
            parts.append(block.text)
    return "\n\n".join(parts)


def _number(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _interval(interval: Sequence[float] | None) -> str:
    return f"[{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "n/a"


def _short_count(count: int) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            return f"{count / size:.1f}{suffix}"
    return str(count)


def _date(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else "n/a"


# The generated sections ---------------------------------------------------------------------------


def _model_details(version: ModelVersion, base_url: str) -> list[Block]:
    model = version.model
    organization = model.organization
    facts: list[tuple[str, Cell]] = [
        ("Model", Link(f"{model.full_name} v{version.number}", base_url + version.get_absolute_url())),
        ("Developed by", f"{organization.name} ({organization.slug})"),
        ("Created", _date(version.created_at)),
        ("Status", version.get_status_display()),
        ("Origin", version.get_origin_display()),
        ("Task", model.task),
    ]
    if version.architecture:
        facts.append(("Architecture", version.architecture))
    if version.num_parameters:
        facts.append(("Parameters", f"{version.num_parameters:,} ({_short_count(version.num_parameters)})"))
    if version.labels:
        facts.append(("Labels", ", ".join(str(label) for label in version.labels)))
    if version.base_version is not None:
        base = version.base_version
        facts.append(("Base model", Link(str(base), base_url + base.get_absolute_url())))
    facts.append(("Licence", model.license))
    training = (version.metrics or {}).get("training") or {}
    if training:
        facts += _training_facts(training)
    if version.library_versions:
        libraries = ", ".join(f"{name} {value}" for name, value in sorted(version.library_versions.items()))
        facts.append(("Library versions", libraries))
    blocks: list[Block] = [Facts(tuple(facts))]
    if model.description:
        blocks.insert(0, Text(model.description))
    return blocks


def _training_facts(training: Mapping[str, Any]) -> list[tuple[str, Cell]]:
    """The training run's lineage as recorded on the version (method, hyperparameters, compute)."""
    facts: list[tuple[str, Cell]] = []
    if training.get("method"):
        facts.append(("Training method", str(training["method"])))
    hyperparameters = training.get("hyperparameters") or {}
    if hyperparameters:
        facts.append(("Hyperparameters", ", ".join(f"{k}={v}" for k, v in sorted(hyperparameters.items()))))
    if training.get("epochs_completed") is not None:
        stopped = " (stopped early)" if training.get("stopped_early") else ""
        facts.append(("Epochs completed", f"{training['epochs_completed']}{stopped}"))
    if training.get("steps") is not None:
        facts.append(("Optimizer steps", f"{training['steps']:,}"))
    if training.get("train_examples") is not None:
        facts.append(("Training examples", f"{training['train_examples']:,}"))
    if training.get("trainable_parameters") is not None:
        facts.append(("Trainable parameters", f"{training['trainable_parameters']:,}"))
    hardware = " ".join(str(training[key]) for key in ("device", "precision") if training.get(key))
    if hardware:
        facts.append(("Hardware", hardware))
    if training.get("accelerator_seconds") is not None:
        facts.append(("Accelerator time", f"{training['accelerator_seconds']:.0f} s"))
    return facts


METRIC_EXPLANATIONS = (
    ("Accuracy", "share of correct predictions; the primary metric, compared with the baseline."),
    ("Macro-F1", "unweighted mean of the per-class F1 scores, so that rare classes count as much as "
                 "frequent ones."),
    ("δ fairness gap", "highest minus lowest accuracy over the groups of the evaluation data's group field "
                       "(groups under 30 examples left out), with a bootstrap 95% interval; n/a without a "
                       "group field."),
    ("ε calibration error", "top-label expected calibration error over 15 equal-width confidence bins: "
                            "whether the model's confidence can be taken at face value."),
    ("θ data-leakage risk", "1 − (1 − θ_data)(1 − θ_model): the share of training records with validated "
                            "personal data, combined with the advantage of a membership-inference attack."),
    ("F governance objective", "α·δ + β·ε + γ·θ, lower is better; the governance score is 1 − F."),
)  # fmt: skip


def _report_row(report: EvaluationReport, base_url: str) -> tuple[Cell, ...]:
    return (
        Link(str(report.dataset_version), base_url + report.get_absolute_url()),
        report.split,
        str(report.examples) if report.examples is not None else "n/a",
        _number(report.accuracy),
        _number(report.macro_f1),
        _number(report.delta),
        _number(report.epsilon),
        _number(report.theta),
        _number(report.objective),
    )


def _metrics(version: ModelVersion, reports: Sequence[EvaluationReport], base_url: str) -> list[Block]:
    explanations = Facts(METRIC_EXPLANATIONS)
    if reports:
        headers = ("Dataset version", "Split", "Examples", "Accuracy", "Macro-F1", "δ", "ε", "θ", "F")
        rows = tuple(_report_row(report, base_url) for report in reports)
        return [explanations, Table(headers, rows, caption="Evaluation results (newest first)")]
    validation = (version.metrics or {}).get("validation") or {}
    if validation:
        rows = tuple((name, _number(value) if isinstance(value, int | float) else str(value))
                     for name, value in sorted(validation.items()))  # fmt: skip
        note = Text("Measured by the fine-tuning run on the validation split of its training data; "
                    "no evaluation report yet.")  # fmt: skip
        return [explanations, note, Table(("Metric", "Value"), rows)]
    return []


def _evaluation_data(reports: Sequence[EvaluationReport], base_url: str) -> list[Block]:
    if not reports:
        return []
    rows = []
    for report in reports:
        dataset_version = report.dataset_version
        dataset = dataset_version.dataset
        fairness = (report.report or {}).get("fairness") or {}
        group = fairness.get("group_field") or dataset_version.group_field
        rows.append((
            Link(str(dataset_version), base_url + dataset.get_absolute_url()),
            dataset.name,
            report.split,
            str(report.examples) if report.examples is not None else "n/a",
            group or "none",
            _date(report.finished_at or report.created_at),
        ))  # fmt: skip
    headers = ("Dataset version", "Name", "Split", "Examples", "Group field", "Evaluated")
    return [Table(headers, tuple(rows))]


# The splits a dataset version is trained and evaluated on (its uploaded source file aside).
DATA_SPLITS = (Split.TRAIN, Split.VALIDATION, Split.TEST)


def _training_data(version: ModelVersion, base_url: str) -> list[Block]:
    dataset_version = version.dataset_version
    if dataset_version is None:
        return []
    dataset = dataset_version.dataset
    url = base_url + dataset.get_absolute_url()
    splits = [split for split in DATA_SPLITS if dataset_version.row_counts.get(split) is not None]
    rows_per_split = ", ".join(f"{split} {dataset_version.row_counts[split]:,}" for split in splits)
    datasheet = dataset_completeness(dataset)
    facts: list[tuple[str, Cell]] = [
        ("Dataset version", Link(str(dataset_version), url)),
        ("Name", dataset.name),
        ("Licence", dataset.license),
        ("Columns", f"text: {dataset_version.text_field}; label: {dataset_version.label_field}; "
                    f"group: {dataset_version.group_field or 'none'}"),
        ("Rows per split", rows_per_split or "n/a"),
        ("Datasheet", Link(f"{datasheet.percent}% complete", url)),
    ]  # fmt: skip
    blocks: list[Block] = [Facts(tuple(facts))]
    distribution = dataset_version.label_distribution or {}
    shown = [split for split in DATA_SPLITS if split in distribution]
    labels = sorted({str(label) for split in shown for label in distribution[split]})
    if labels:
        rows = tuple(
            (label, *(str(distribution[split].get(label, 0)) for split in shown)) for label in labels
        )
        blocks.append(Table(("Label", *shown), rows, caption="Label distribution (rows)"))
    return blocks


def _quantitative_analyses(headline: EvaluationReport | None, base_url: str) -> list[Block]:
    if headline is None:
        return []
    body = headline.report or {}
    blocks: list[Block] = [
        Facts((
            ("Evaluation", Link(f"{headline.dataset_version}, {headline.split} split",
                                base_url + headline.get_absolute_url())),
            ("Examples", str(headline.examples) if headline.examples is not None else "n/a"),
            ("Accuracy", _number(headline.accuracy)),
            ("Macro-F1", _number(headline.macro_f1)),
        ))
    ]  # fmt: skip
    task = body.get("task") or {}
    per_class = task.get("per_class") or []
    if per_class:
        rows = tuple(
            (str(row.get("label")), *(_number(row.get(name)) for name in ("precision", "recall", "f1")),
             str(row.get("support", "n/a")))
            for row in per_class
        )  # fmt: skip
        blocks.append(Table(("Label", "Precision", "Recall", "F1", "Support"), rows, caption="Per class"))
    matrix, labels = task.get("confusion_matrix"), body.get("labels") or []
    if matrix and len(matrix) == len(labels):
        rows = tuple(
            (str(label), *(str(count) for count in row)) for label, row in zip(labels, matrix, strict=True)
        )
        headers = ("True \\ predicted", *(str(label) for label in labels))
        blocks.append(Table(headers, rows, caption="Confusion matrix"))
    blocks += _fairness_blocks(headline, body.get("fairness") or {})
    blocks.append(Facts(tuple(_governance_facts(headline, body))))
    comparison = _comparison_facts(body.get("comparison") or {})
    if comparison:
        blocks += [
            Text("Compared with the baselines (accuracy on the same split):"),
            Facts(tuple(comparison)),
        ]
    return blocks


def _fairness_blocks(headline: EvaluationReport, fairness: Mapping[str, Any]) -> list[Block]:
    groups = fairness.get("groups") or []
    if not groups:
        return []
    rows = tuple((
        str(group.get("group")),
        str(group.get("examples", "n/a")),
        _number(group.get("accuracy")),
        _interval(group.get("interval")),
        "yes" if group.get("included", True) else f"no (under {fairness.get('min_group_size', 30)} examples)",
    ) for group in groups)  # fmt: skip
    headers = ("Group", "Examples", "Accuracy", "95% interval", "Counted in δ")
    caption = f"Accuracy per group (group field: {fairness.get('group_field') or 'n/a'})"
    return [Table(headers, rows, caption=caption)]


def _governance_facts(headline: EvaluationReport, body: Mapping[str, Any]) -> list[tuple[str, Cell]]:
    fairness = body.get("fairness") or {}
    calibration = body.get("calibration") or {}
    leakage = body.get("leakage") or {}
    objective = body.get("objective") or {}
    delta = _number(headline.delta)
    if headline.delta is not None and fairness.get("interval"):
        delta += f" (95% interval {_interval(fairness['interval'])})"
    elif headline.delta is None and fairness.get("reason"):
        delta += f": {fairness['reason']}"
    facts: list[tuple[str, Cell]] = [("δ fairness gap", delta)]
    for key, title in (("demographic_parity_difference", "Demographic parity difference"),
                       ("equalized_odds_difference", "Equalized odds difference")):  # fmt: skip
        if fairness.get(key) is not None:
            facts.append((title, _number(fairness[key])))
    epsilon = _number(headline.epsilon)
    if calibration.get("n_bins"):
        epsilon += f" ({calibration['n_bins']} bins)"
    facts.append(("ε expected calibration error", epsilon))
    if calibration.get("brier") is not None:
        facts.append(("Brier score", _number(calibration["brier"])))
    theta = _number(headline.theta)
    if headline.theta is None and leakage.get("reason"):
        theta += f": {leakage['reason']}"
    facts.append(("θ data-leakage risk", theta))
    facts.append(("θ_data (training records with personal data)", _number(leakage.get("theta_data"))))
    facts.append(("θ_model (membership-inference advantage)", _number(leakage.get("theta_model"))))
    weights = objective.get("weights") or {}
    objective_text = _number(headline.objective)
    if weights:
        objective_text += " (α={alpha}, β={beta}, γ={gamma})".format(
            **{name: _number(weights.get(name)) for name in ("alpha", "beta", "gamma")}
        )
    facts.append(("F governance objective", objective_text))
    facts.append(("Governance score 1 − F", _number(headline.governance_score)))
    return facts


def _comparison_facts(comparison: Mapping[str, Any]) -> list[tuple[str, Cell]]:
    facts: list[tuple[str, Cell]] = []
    majority = comparison.get("majority_class") or {}
    if majority.get("accuracy") is not None:
        facts.append((f"Majority-class baseline ({majority.get('label')})", _number(majority["accuracy"])))
    base = comparison.get("base_model") or {}
    if base.get("accuracy") is not None:
        facts.append((f"Base model {base.get('version', '')}".strip(), _number(base["accuracy"])))
    if comparison.get("gain") is not None:
        baseline = str(comparison.get("baseline", "baseline")).replace("_", " ")
        relative = comparison.get("relative_gain")
        gain = f"{comparison['gain']:+.4f} accuracy over the {baseline}"
        if relative is not None:
            gain += f" (relative {relative:+.4f})"
        facts.append(("Gain", gain))
    return facts


# Front matter in the Hugging Face format -------------------------------------------------------------

# SPDX ids and the Hugging Face licence identifiers they correspond to, where those differ from the
# lower-case SPDX id; a licence Hugging Face does not list becomes "other" with its name.
_HF_LICENSES = {
    "AGPL-3.0-only": "agpl-3.0", "AGPL-3.0-or-later": "agpl-3.0", "GPL-2.0-only": "gpl-2.0",
    "GPL-2.0-or-later": "gpl-2.0", "GPL-3.0-only": "gpl-3.0", "GPL-3.0-or-later": "gpl-3.0",
    "LGPL-2.1-only": "lgpl-2.1", "LGPL-2.1-or-later": "lgpl-2.1", "LGPL-3.0-only": "lgpl-3.0",
    "LGPL-3.0-or-later": "lgpl-3.0", "GFDL-1.3-only": "gfdl", "ODbL-1.0": "odbl", "ODC-By-1.0": "odc-by",
    "PDDL-1.0": "pddl",
}  # fmt: skip
_HF_SAME_AS_SPDX = frozenset({
    "AFL-3.0", "Apache-2.0", "Artistic-2.0", "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear", "BSL-1.0",
    "CC-BY-2.0", "CC-BY-2.5", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-NC-2.0", "CC-BY-NC-3.0", "CC-BY-NC-4.0",
    "CC-BY-NC-ND-3.0", "CC-BY-NC-ND-4.0", "CC-BY-NC-SA-2.0", "CC-BY-NC-SA-3.0", "CC-BY-NC-SA-4.0",
    "CC-BY-ND-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC0-1.0", "CDLA-Permissive-1.0", "CDLA-Permissive-2.0",
    "CDLA-Sharing-1.0", "ECL-2.0", "EPL-1.0", "EPL-2.0", "EUPL-1.1", "EUPL-1.2", "ISC", "LPPL-1.3c", "MIT",
    "MPL-2.0", "MS-PL", "NCSA", "OFL-1.1", "OSL-3.0", "PostgreSQL", "Unlicense", "WTFPL", "Zlib",
})  # fmt: skip


def hf_license(license: str) -> dict[str, str]:
    """The ``license`` metadata of a Hugging Face card: its identifier, or "other" and a ``license_name``."""
    try:
        canonical = normalize_license(license)
    except ValueError:
        canonical = (license or "").strip()
    if canonical in _HF_LICENSES:
        return {"license": _HF_LICENSES[canonical]}
    if canonical in _HF_SAME_AS_SPDX:
        return {"license": canonical.lower()}
    # Hugging Face expects a license_name made of lower-case letters, digits, dots and hyphens.
    name = re.sub(r"[^a-z0-9.]+", "-", canonical.lower()).strip("-.")
    return {"license": "other", "license_name": name or "unknown"}


def _task_name(task: str) -> str:
    return task.replace("-", " ").title()


def model_index_results(version: ModelVersion, reports: Sequence[EvaluationReport]) -> list[dict]:
    """One Hugging Face ``model-index`` result per evaluated dataset split (the newest report of each)."""
    task = version.model.task or "text-classification"
    results = []
    seen = set()
    for report in reports:
        if (report.dataset_version_id, report.split) in seen:
            continue
        seen.add((report.dataset_version_id, report.split))
        metrics = []
        if report.accuracy is not None:
            metrics.append({"type": "accuracy", "value": round(report.accuracy, 4), "name": "Accuracy"})
        if report.macro_f1 is not None:
            metrics.append({"type": "f1", "value": round(report.macro_f1, 4), "name": "Macro F1",
                            "args": {"average": "macro"}})  # fmt: skip
        if not metrics:
            continue
        dataset_version = report.dataset_version
        results.append({
            "task": {"type": task, "name": _task_name(task)},
            "dataset": {"name": dataset_version.dataset.name, "type": dataset_version.dataset.full_name,
                        "split": report.split, "revision": f"v{dataset_version.number}"},
            "metrics": metrics,
        })  # fmt: skip
    return results


ORIGIN_TAGS = {
    ModelVersion.Origin.UPLOAD: "uploaded",
    ModelVersion.Origin.RUN: "fine-tuned",
    ModelVersion.Origin.FUSION: "fusion",
}


def front_matter(version: ModelVersion, reports: Sequence[EvaluationReport]) -> dict[str, Any]:
    """The card's metadata as Hugging Face reads it (license, base_model, datasets, model-index…)."""
    model = version.model
    task = model.task or "text-classification"
    metadata: dict[str, Any] = hf_license(model.license)
    if version.base_version is not None:
        metadata["base_model"] = version.base_version.model.full_name
    if version.dataset_version is not None:
        metadata["datasets"] = [version.dataset_version.dataset.full_name]
    metadata["library_name"] = "transformers"
    metadata["pipeline_tag"] = task
    metadata["tags"] = ["agora", ORIGIN_TAGS.get(version.origin, version.origin)]
    metadata["metrics"] = ["accuracy", "f1"]
    results = model_index_results(version, reports)
    if results:
        metadata["model-index"] = [{"name": model.full_name, "results": results}]
    return metadata


# The card ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    item: str
    done: bool
    hint: str = ""
    applicable: bool = True


def _records_fill(section: Section, version: ModelVersion, evaluated: int) -> bool:
    """Whether the records give the section real content (the owners' prose aside)."""
    if section.key == "model_details":
        return bool(version.architecture or version.num_parameters)
    if section.key == "metrics":
        return evaluated > 0 or bool((version.metrics or {}).get("validation"))
    if section.key == "training_data":
        return version.dataset_version_id is not None
    if section.key in ("evaluation_data", "quantitative_analyses"):
        return evaluated > 0
    return False


def checklist(version: ModelVersion, sections: Mapping[str, str], evaluated: int) -> list[ChecklistItem]:
    """The nine sections and the four machine checks. ``evaluated``: succeeded evaluation reports."""
    items = []
    for section in SECTIONS:
        done = is_filled(sections.get(section.key)) or (
            section.generated and _records_fill(section, version, evaluated)
        )
        if section.generated:
            hint = f"generated from {section.generated_from}, or written by the owners"
        else:
            hint = f"written by the owners, at least {MIN_PROSE_CHARS} characters (not “TBD” and the like)"
        items.append(ChecklistItem(section.key, section.title, bool(done), hint))
    try:
        normalize_license(version.model.license)
        license_valid = True
    except ValueError:
        license_valid = False
    items.append(ChecklistItem("license", "A valid licence id", license_valid,
                               "an SPDX id such as Apache-2.0, or LicenseRef-<name>"))  # fmt: skip
    fine_tune = version.origin == ModelVersion.Origin.RUN
    items.append(ChecklistItem(
        "base_model", "base_model of a fine-tune", not fine_tune or version.base_version_id is not None,
        "the base version the run started from" if fine_tune else "not a fine-tune: not applicable",
        applicable=fine_tune,
    ))  # fmt: skip
    items.append(ChecklistItem("datasets", "Training datasets resolvable to hub datasets",
                               version.dataset_version_id is not None,
                               "a version trained on this hub records its dataset version"))  # fmt: skip
    items.append(ChecklistItem("evaluation_results", "At least one structured evaluation result",
                               evaluated > 0, "a succeeded evaluation report of this version"))  # fmt: skip
    return items


def completeness_from(items: Sequence[ChecklistItem]) -> Completeness:
    missing = [Item(item.key, item.item) for item in items if not item.done]
    return Completeness(filled=len(items) - len(missing), required=len(items), missing=missing)


@dataclass(frozen=True)
class CardSection:
    section: Section
    prose: str
    blocks: tuple[Block, ...]
    filled: bool

    @property
    def generated_markdown(self) -> str:
        return blocks_markdown(self.blocks)


@dataclass(frozen=True)
class Card:
    version: ModelVersion
    sections: tuple[CardSection, ...]
    checklist: tuple[ChecklistItem, ...]
    front_matter: dict[str, Any]
    readme: str
    hidden_evaluations: int = 0
    updated_at: datetime | None = None
    updated_by: str = ""
    completeness: Completeness = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "completeness", completeness_from(self.checklist))

    @property
    def owner_sections(self) -> dict[str, str]:
        return {part.section.key: part.prose for part in self.sections}

    @property
    def generated(self) -> dict[str, str]:
        return {part.section.key: part.generated_markdown for part in self.sections if part.blocks}


def headline_of(version: ModelVersion, reports: Sequence[EvaluationReport]) -> EvaluationReport | None:
    """Among succeeded reports (newest first): the test split of the training dataset version if
    evaluated, else the newest (the rule of ``governance.selectors.headline_evaluation``)."""
    for report in reports:
        if report.dataset_version_id == version.dataset_version_id and report.split == Split.TEST:
            return report
    return reports[0] if reports else None


def build_card(
    version: ModelVersion,
    sections: Mapping[str, str],
    reports: Sequence[EvaluationReport],
    *,
    evaluated: int | None = None,
    base_url: str = "",
    updated_at: datetime | None = None,
    updated_by: str = "",
) -> Card:
    """The whole card of a version.

    ``reports``: the succeeded evaluation reports to show, newest first. ``evaluated``: how many
    succeeded reports the version has in all (some may be on datasets the reader cannot see); it
    decides completeness, which is the same for every reader. ``base_url`` prefixes the links.
    """
    evaluated = len(reports) if evaluated is None else evaluated
    items = tuple(checklist(version, sections, evaluated))
    done = {item.key: item.done for item in items}
    generators = {
        "model_details": lambda: _model_details(version, base_url),
        "metrics": lambda: _metrics(version, reports, base_url),
        "evaluation_data": lambda: _evaluation_data(reports, base_url),
        "training_data": lambda: _training_data(version, base_url),
        "quantitative_analyses": lambda: _quantitative_analyses(headline_of(version, reports), base_url),
    }
    parts = tuple(
        CardSection(
            section=section,
            prose=sections.get(section.key, ""),
            blocks=tuple(generators[section.key]()) if section.key in generators else (),
            filled=done[section.key],
        )
        for section in SECTIONS
    )
    metadata = front_matter(version, reports)
    hidden = max(evaluated - len(reports), 0)
    readme = render_readme(version, parts, items, metadata, hidden, base_url)
    return Card(version, parts, items, metadata, readme, hidden, updated_at, updated_by)


def render_readme(
    version: ModelVersion,
    parts: Sequence[CardSection],
    items: Sequence[ChecklistItem],
    metadata: Mapping[str, Any],
    hidden_evaluations: int = 0,
    base_url: str = "",
) -> str:
    """The README.md: YAML front matter, then the nine sections, then the checklist."""
    model = version.model
    score = completeness_from(items)
    model_url = base_url + model.get_absolute_url()
    header = yaml.safe_dump(dict(metadata), sort_keys=False, allow_unicode=True, default_flow_style=False)
    lines = [
        "---", header.rstrip("\n"), "---", "",
        f"# {model.name or model.full_name} ({model.full_name} v{version.number})", "",
        f"Model card of version {version.number} of [{model.full_name}]({model_url}), in the sections of "
        "Mitchell et al., *Model Cards for Model Reporting* (2019). The owners' text comes first in each "
        "section; the rest is generated from the hub's records.", "",
        f"**Card completeness: {score.percent}%** ({score.filled} of {score.required} items).", "",
    ]  # fmt: skip
    for part in parts:
        lines += [f"## {part.section.title}", ""]
        if part.prose:
            lines += [part.prose, ""]
        if part.blocks:
            lines += [part.generated_markdown, ""]
        if not part.prose and not part.blocks:
            lines += ["_Not written yet._", ""]
        if part.section.key == "evaluation_data" and hidden_evaluations:
            hidden = f"{hidden_evaluations} further evaluation(s) on datasets you cannot see are not shown."
            lines += [f"_{hidden}_", ""]
    lines += ["## Card checklist", ""]
    lines += [f"- [{'x' if item.done else ' '}] {item.item}" + ("" if item.done else f": {item.hint}")
              for item in items]  # fmt: skip
    return "\n".join(lines) + "\n"


# Loading a version's card ------------------------------------------------------------------------------


def _succeeded_reports(version: ModelVersion) -> list[EvaluationReport]:
    return list(evaluations_of(version).filter(status=JobStatus.SUCCEEDED))


def _stored(version: ModelVersion) -> ModelCard | None:
    return ModelCard.objects.filter(model_version=version).select_related("updated_by").first()


def card_of(version: ModelVersion, viewer: Viewer, *, base_url: str = "") -> Card:
    """The version's card as the viewer may read it: evaluations on dataset versions the viewer
    cannot see are left out of the content (completeness still counts them)."""
    reports = _succeeded_reports(version)
    visible_datasets = Dataset.objects.filter(artifact_visible_q(viewer, Dataset))
    readable = set(
        DatasetVersion.objects.filter(
            pk__in={report.dataset_version_id for report in reports}, dataset__in=visible_datasets
        ).values_list("pk", flat=True)
    )
    shown = [report for report in reports if report.dataset_version_id in readable]
    stored = _stored(version)
    return build_card(
        version,
        stored.sections if stored else {},
        shown,
        evaluated=len(reports),
        base_url=base_url,
        updated_at=stored.updated_at if stored else None,
        updated_by=str(stored.updated_by) if stored and stored.updated_by else "",
    )


def completeness_of(version: ModelVersion) -> Completeness:
    """The version's card completeness, without generating the card."""
    stored = _stored(version)
    evaluated = evaluations_of(version).filter(status=JobStatus.SUCCEEDED).count()
    return completeness_from(checklist(version, stored.sections if stored else {}, evaluated))
