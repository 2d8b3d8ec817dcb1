"""The policy engine: the licence-flow matrix cell by cell, uses, commercial use, access, thresholds, card."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from governance.policy_engine import (
    OPENRAIL_M_RESTRICTIONS,
    USE_TAGS,
    Decision,
    Input,
    Request,
    Scores,
    Terms,
    decide,
)

REPO = Path(__file__).resolve().parents[2]

# The matrix of the reference (shared/spec/policies.md), copied by hand so that a slip in the module's table
# shows up here. Rows: role, the licence ids the row covers (BSD and ISC counted as permissive), marks per
# column. In the Llama row "✓" means: only under the very same licence.
COLUMNS = ("Apache-2.0", "MIT", "CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "OpenRAIL-M", "Llama-style")
PROPOSED_FOR_COLUMN = {
    "Apache-2.0": "Apache-2.0",
    "MIT": "MIT",
    "CC-BY-4.0": "CC-BY-4.0",
    "CC-BY-SA-4.0": "CC-BY-SA-4.0",
    "CC-BY-NC-4.0": "CC-BY-NC-4.0",
    "OpenRAIL-M": "LicenseRef-openrail-m",
    "Llama-style": "LicenseRef-llama3.1",
}
PERMISSIVE_DATA = ("Apache-2.0", "MIT", "CC-BY-4.0", "CC0-1.0", "BSD-2-Clause", "BSD-3-Clause", "ISC")
OPENRAIL_IDS = (
    "LicenseRef-openrail-m",
    "LicenseRef-bigscience-openrail-m",
    "LicenseRef-creativeml-openrail-m",
    "LicenseRef-openrail++",
)
LLAMA_IDS = ("LicenseRef-llama2", "LicenseRef-llama3", "LicenseRef-llama3.1", "LicenseRef-llama3.2")
MATRIX = (
    ("dataset", PERMISSIVE_DATA, "A A A A A A A"),
    ("dataset", ("CC-BY-SA-4.0",), "✗ ✗ ✗ ✓ ✗ ✗ ✗"),
    ("dataset", ("CC-BY-NC-4.0",), "✗ ✗ ✗ ✗ ✓ ✗ ✗"),
    ("base_model", ("Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause", "ISC"), "✓ ✓ ✓ ✓ ✓ ✓ ✗"),
    ("base_model", OPENRAIL_IDS, "R R R ✗ R ✓ ✗"),
    ("base_model", LLAMA_IDS, "✗ ✗ ✗ ✗ ✗ ✗ ✓"),
)
CELLS = [
    pytest.param(role, license_id, column, mark, id=f"{role}:{license_id}->{column}")
    for role, license_ids, marks in MATRIX
    for license_id in license_ids
    for column, mark in zip(COLUMNS, marks.split(), strict=True)
]
ROWS = [
    pytest.param(role, license_id, marks, id=f"{role}:{license_id}")
    for role, license_ids, marks in MATRIX
    for license_id in license_ids
]


def item(
    license_id: str = "Apache-2.0",
    role: str = "dataset",
    name: str = "acme/reviews",
    terms: Terms | None = None,
    access: bool = True,
    owner: str = "acme",
) -> Input:
    return Input(role=role, name=name, owner=owner, license=license_id, terms=terms, access=access)


def run(*inputs: Input, **fields) -> Decision:
    return decide(Request(context="run", requester="beta", inputs=inputs, **fields))


def publish(*inputs: Input, **fields) -> Decision:
    return decide(Request(context="publication", requester="beta", inputs=inputs, **fields))


def carrying_terms(**fields) -> Terms:
    """A policy for the new model that prohibits every OpenRAIL-M restriction."""
    return Terms(
        policy="beta/derived@v1", license="Apache-2.0", prohibited_uses=OPENRAIL_M_RESTRICTIONS, **fields
    )


def codes(reasons) -> list[str]:
    return [reason.code for reason in reasons]


# The matrix -------------------------------------------------------------------------------------


def proposed_licence(license_id: str, column: str) -> str:
    # A Llama base keeps its own licence; every other row is tried against the column's usual id.
    if column == "Llama-style" and license_id in LLAMA_IDS:
        return license_id
    return PROPOSED_FOR_COLUMN[column]


@pytest.mark.parametrize(("role", "license_id", "column", "mark"), CELLS)
def test_matrix_cell_in_a_run(role, license_id, column, mark):
    proposed = proposed_licence(license_id, column)
    decision = run(item(license_id, role=role, name="acme/input"), proposed_license=proposed)

    if mark == "✗":
        assert decision.outcome == "refused"
        assert codes(decision.reasons) == ["license_conflict"]
        reason = decision.reasons[0]
        assert reason.artifact == "acme/input"
        assert license_id in reason.message and proposed in reason.message
        assert column not in decision.allowed_licenses
        return
    assert decision.outcome == "allowed", decision.reasons
    assert decision.reasons == ()
    assert column in decision.allowed_licenses
    expected_obligations = {
        "✓": ["attribution"] if license_id in LLAMA_IDS else [],
        "A": ["attribution"],
        "R": ["carry_restrictions"],
    }[mark]
    assert codes(decision.obligations) == expected_obligations
    if mark == "R":
        assert all(tag in decision.obligations[0].message for tag in OPENRAIL_M_RESTRICTIONS)


@pytest.mark.parametrize(("role", "license_id", "column", "mark"), CELLS)
def test_matrix_cell_in_a_publication(role, license_id, column, mark):
    proposed = proposed_licence(license_id, column)
    bare = publish(item(license_id, role=role), proposed_license=proposed)
    carried = publish(item(license_id, role=role), proposed_license=proposed, own_terms=carrying_terms())

    if mark == "✗":
        assert bare.outcome == carried.outcome == "refused"
        assert codes(carried.reasons) == ["license_conflict"]
    elif mark == "R":
        # Allowed only when the new model's policy prohibits every restriction of the input.
        assert bare.outcome == "refused"
        assert codes(bare.reasons) == ["restrictions_not_carried"]
        assert carried.outcome == "allowed" and carried.reasons == ()
    else:
        assert bare.outcome == carried.outcome == "allowed"


@pytest.mark.parametrize(("role", "license_id", "marks"), ROWS)
def test_allowed_licenses_of_a_row(role, license_id, marks):
    expected = tuple(column for column, mark in zip(COLUMNS, marks.split(), strict=True) if mark != "✗")
    assert run(item(license_id, role=role)).allowed_licenses == expected


def test_licence_ids_match_case_insensitively():
    decision = run(item("apache-2.0", role="base_model"), proposed_license="cc-by-sa-4.0")
    assert decision.outcome == "allowed"
    llama = run(item("LicenseRef-Llama3.1", role="base_model"), proposed_license="licenseref-llama3.1")
    assert llama.outcome == "allowed"
    refused = run(item("cc-by-nc-4.0"), proposed_license="APACHE-2.0")
    assert codes(refused.reasons) == ["license_conflict"]


# Several inputs: the intersection -----------------------------------------------------------------


def test_allowed_licenses_are_the_intersection_of_the_inputs():
    decision = run(
        item("CC-BY-4.0", name="acme/reviews"),
        item("LicenseRef-bigscience-openrail-m", role="base_model", name="bigscience/bloom"),
    )
    assert decision.allowed_licenses == ("Apache-2.0", "MIT", "CC-BY-4.0", "CC-BY-NC-4.0", "OpenRAIL-M")
    assert codes(decision.obligations) == ["attribution", "carry_restrictions"]


def test_empty_intersection_names_each_input_that_forbids_the_proposed_licence():
    inputs = (
        item("CC-BY-SA-4.0", name="acme/share-alike"),
        item("CC-BY-NC-4.0", name="acme/non-commercial"),
        item("MIT", role="base_model", name="acme/base"),
    )
    assert run(*inputs).allowed_licenses == ()

    decision = run(*inputs, proposed_license="CC-BY-SA-4.0")
    assert decision.outcome == "refused"
    assert codes(decision.reasons) == ["license_conflict"]
    assert decision.reasons[0].artifact == "acme/non-commercial"
    assert "CC-BY-NC-4.0" in decision.reasons[0].message and "CC-BY-SA-4.0" in decision.reasons[0].message

    both = run(*inputs, proposed_license="Apache-2.0")
    assert [reason.artifact for reason in both.reasons] == ["acme/share-alike", "acme/non-commercial"]


def test_llama_needs_the_same_licence():
    base = item("LicenseRef-llama3.1", role="base_model", name="meta/llama")
    assert run(base, proposed_license="LicenseRef-llama3.1").outcome == "allowed"
    other = run(base, proposed_license="LicenseRef-llama3")
    assert other.outcome == "refused"
    assert codes(other.reasons) == ["license_conflict"]
    assert "LicenseRef-llama3.1" in other.reasons[0].message

    # Two Llama inputs under different licences leave no Llama-style licence at all.
    adapter = item("LicenseRef-llama3", role="base_model", name="meta/llama3")
    assert "Llama-style" not in run(base, adapter).allowed_licenses
    assert run(base, item("LicenseRef-llama3.1", role="base_model")).allowed_licenses == ("Llama-style",)


# Undecidable --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "license_id", "proposed"),
    [
        ("dataset", "GPL-3.0-only", "Apache-2.0"),  # a licence the table does not know
        ("dataset", "LicenseRef-openrail-m", "Apache-2.0"),  # a known family the matrix has no data row for
        ("base_model", "CC-BY-4.0", "Apache-2.0"),  # a family the matrix rules on for data only
        ("base_model", "CC-BY-NC-4.0", "CC-BY-NC-4.0"),
        ("base_model", "Apache-2.0", "BSD-3-Clause"),  # a proposed licence that is no column
        ("base_model", "Apache-2.0", "LicenseRef-acme-custom"),
    ],
)
def test_undecidable_goes_to_review(role, license_id, proposed):
    decision = run(item(license_id, role=role), proposed_license=proposed)
    assert decision.outcome == "review"
    assert codes(decision.reasons) == ["license_undecidable"]


def test_undecidable_does_not_hide_a_conflict():
    decision = run(
        item("GPL-3.0-only", name="acme/gpl"), item("CC-BY-NC-4.0", name="acme/nc"), proposed_license="MIT"
    )
    assert decision.outcome == "refused"
    assert codes(decision.reasons) == ["license_conflict", "license_undecidable"]


def test_publication_without_a_licence_goes_to_review_and_falls_back_on_its_policy():
    assert codes(publish(item("MIT")).reasons) == ["license_undecidable"]
    own = Terms(policy="beta/open@v1", license="CC-BY-NC-4.0")
    assert publish(item("CC-BY-SA-4.0"), own_terms=own).codes == ("license_conflict",)
    assert publish(item("CC-BY-NC-4.0"), own_terms=own).outcome == "allowed"


# Conflicts sent to review -------------------------------------------------------------------------


def lenient(policy: str, license_id: str, **fields) -> Terms:
    return Terms(policy=policy, license=license_id, conflicts_go_to_review=True, **fields)


def test_conflict_goes_to_review_when_every_conflicting_policy_says_so():
    sa = item("CC-BY-SA-4.0", name="acme/sa", terms=lenient("acme/sa@v1", "CC-BY-SA-4.0"))
    nc = item("CC-BY-NC-4.0", name="acme/nc", terms=lenient("acme/nc@v3", "CC-BY-NC-4.0"))
    decision = run(sa, nc, proposed_license="MIT")
    assert decision.outcome == "review"
    assert codes(decision.reasons) == ["license_conflict", "license_conflict"]
    assert "acme/nc@v3" in decision.reasons[1].message


def test_conflict_is_refused_when_one_conflicting_input_does_not_allow_review():
    sa = item("CC-BY-SA-4.0", name="acme/sa", terms=lenient("acme/sa@v1", "CC-BY-SA-4.0"))
    strict = item("CC-BY-NC-4.0", name="acme/nc", terms=Terms(policy="acme/nc@v1", license="CC-BY-NC-4.0"))
    no_policy = item("CC-BY-NC-4.0", name="acme/nc")
    assert run(sa, strict, proposed_license="MIT").outcome == "refused"
    assert run(sa, no_policy, proposed_license="MIT").outcome == "refused"
    # A lenient policy on an input that does not conflict changes nothing.
    permissive = item("MIT", name="acme/mit", terms=lenient("acme/mit@v1", "MIT"))
    assert run(permissive, no_policy, proposed_license="MIT").outcome == "refused"


# Uses ---------------------------------------------------------------------------------------------


def test_prohibited_use_names_the_use_and_the_policy():
    terms = Terms(policy="acme/no-ads@v2", license="MIT", prohibited_uses=("Advertising", "surveillance"))
    decision = run(item("MIT", terms=terms), intended_use=("research", "advertising "))
    assert decision.outcome == "refused"
    assert codes(decision.reasons) == ["prohibited_use"]
    assert "advertising" in decision.reasons[0].message and "acme/no-ads@v2" in decision.reasons[0].message
    assert run(item("MIT", terms=terms), intended_use=("research",)).outcome == "allowed"


def test_use_outside_the_allowed_uses():
    terms = Terms(policy="acme/research-only@v2", license="MIT", allowed_uses=("research", "education"))
    decision = run(item("MIT", terms=terms), intended_use=("research", "production"))
    assert codes(decision.reasons) == ["use_not_allowed"]
    assert (
        "production" in decision.reasons[0].message and "acme/research-only@v2" in decision.reasons[0].message
    )
    assert run(item("MIT", terms=terms), intended_use=("Research", "education")).outcome == "allowed"
    # No allowed list: any use that is not prohibited.
    assert (
        run(item("MIT", terms=Terms("acme/any@v1", "MIT")), intended_use=("production",)).outcome == "allowed"
    )


def test_openrail_restrictions_are_prohibited_without_a_policy():
    base = item("LicenseRef-bigscience-openrail-m", role="base_model", name="bigscience/bloom")
    decision = run(base, intended_use=("medical-advice", "research"))
    assert decision.outcome == "refused"
    assert codes(decision.reasons) == ["prohibited_use"]
    assert "medical-advice" in decision.reasons[0].message
    assert "LicenseRef-bigscience-openrail-m" in decision.reasons[0].message
    assert run(base, intended_use=("research",)).outcome == "allowed"
    # The same tags are harmless on a permissive base model.
    assert run(item("Apache-2.0", role="base_model"), intended_use=("medical-advice",)).outcome == "allowed"


def test_access_requests_check_the_declared_use_but_not_access():
    terms = Terms(policy="acme/gated@v1", license="MIT", access_mode="on_request", prohibited_uses=("ads",))
    gated = item("MIT", terms=terms, access=False)
    assert decide(Request("access", "beta", (gated,), intended_use=("research",))).outcome == "allowed"
    refused = decide(Request("access", "beta", (gated,), intended_use=("ads",)))
    assert codes(refused.reasons) == ["prohibited_use"]


def test_use_tags_offer_the_restrictions_and_the_common_uses():
    assert set(OPENRAIL_M_RESTRICTIONS) <= set(USE_TAGS)
    assert {"research", "education", "commercial", "internal-evaluation", "production"} <= set(USE_TAGS)
    assert all(tag == tag.lower() and title for tag, title in USE_TAGS.items())


# Commercial use -----------------------------------------------------------------------------------


def test_commercial_use_needs_every_input_to_allow_it():
    open_data = item("MIT", name="acme/open")
    assert run(open_data, intended_use=("commercial",)).outcome == "allowed"
    assert run(open_data).commercial_allowed is True

    nc_licence = item("CC-BY-NC-4.0", name="acme/nc")
    decision = run(open_data, nc_licence, intended_use=("commercial",))
    assert decision.outcome == "refused" and decision.commercial_allowed is False
    assert codes(decision.reasons) == ["commercial_use"]
    assert decision.reasons[0].artifact == "acme/nc"

    nc_policy = item("MIT", name="acme/no-profit", terms=Terms("acme/np@v1", "MIT", commercial_use=False))
    decision = run(open_data, nc_policy, intended_use=("commercial", "research"))
    assert codes(decision.reasons) == ["commercial_use"] and "acme/np@v1" in decision.reasons[0].message

    # Not declared: nothing to refuse, but the decision says commercial use is not allowed.
    quiet = run(nc_policy, intended_use=("research",))
    assert quiet.outcome == "allowed" and quiet.commercial_allowed is False


def test_commercial_use_of_an_unknown_licence_goes_to_review():
    decision = run(item("LicenseRef-acme-custom"), intended_use=("commercial",))
    assert decision.outcome == "review"
    assert codes(decision.reasons) == ["license_undecidable"]
    assert decision.commercial_allowed is False


# Access -------------------------------------------------------------------------------------------


def test_missing_access_asks_the_owner():
    decision = run(item("MIT", name="acme/private", access=False), item("MIT", name="beta/own", owner="beta"))
    assert decision.outcome == "refused"
    assert codes(decision.reasons) == ["missing_access"]
    assert decision.reasons[0].artifact == "acme/private"
    assert "ask acme" in decision.reasons[0].message

    gated = Terms("acme/gated@v1", "MIT", access_mode="on_request")
    message = run(item("MIT", terms=gated, access=False)).reasons[0].message
    assert "request access from acme" in message


# Thresholds, card, review -------------------------------------------------------------------------


def test_threshold_exceeded_names_the_score_value_maximum_and_policy():
    own = carrying_terms(max_delta=0.1, max_theta=0.2)
    decision = publish(
        item("MIT"), proposed_license="MIT", own_terms=own, scores=Scores(0.25, 0.05, 0.3, 0.2)
    )
    assert decision.outcome == "refused"
    assert codes(decision.reasons) == ["threshold_exceeded", "threshold_exceeded"]
    delta, theta = (reason.message for reason in decision.reasons)
    assert "δ" in delta and "0.25" in delta and "0.1" in delta and "beta/derived@v1" in delta
    assert "θ" in theta and "0.3" in theta and "0.2" in theta


def test_the_strictest_maximum_wins():
    own = carrying_terms(max_epsilon=0.3)
    data = item("MIT", name="acme/reviews", terms=Terms("acme/strict@v4", "MIT", max_epsilon=0.1))
    decision = publish(data, proposed_license="MIT", own_terms=own, scores=Scores(epsilon=0.2))
    assert codes(decision.reasons) == ["threshold_exceeded"]
    assert "acme/strict@v4" in decision.reasons[0].message and decision.reasons[0].artifact == "acme/reviews"
    # At the maximum is not over it.
    assert (
        publish(data, proposed_license="MIT", own_terms=own, scores=Scores(epsilon=0.1)).outcome == "allowed"
    )


def test_a_maximum_on_an_na_score_cannot_be_shown_to_hold():
    own = carrying_terms(max_delta=0.2, max_objective=0.5)
    decision = publish(item("MIT"), proposed_license="MIT", own_terms=own, scores=Scores(None, 0.1, 0.1, 0.1))
    assert decision.outcome == "refused"
    assert codes(decision.reasons) == ["score_unavailable"]
    assert "δ" in decision.reasons[0].message
    assert codes(publish(item("MIT"), proposed_license="MIT", own_terms=own).reasons) == [
        "score_unavailable",
        "score_unavailable",
    ]
    # n/a scores without a maximum are no obstacle.
    assert publish(item("MIT"), proposed_license="MIT", scores=Scores()).outcome == "allowed"


def test_thresholds_and_card_apply_to_publications_only():
    data = item("MIT", terms=Terms("acme/strict@v1", "MIT", max_delta=0.01))
    assert run(data, scores=Scores(delta=0.5), card_completeness=0.1, min_card_completeness=0.9).outcome == (
        "allowed"
    )


def test_card_incomplete():
    decision = publish(item("MIT"), proposed_license="MIT", card_completeness=0.6, min_card_completeness=0.8)
    assert decision.outcome == "refused" and codes(decision.reasons) == ["card_incomplete"]
    assert "60.0%" in decision.reasons[0].message and "80.0%" in decision.reasons[0].message
    unknown = publish(item("MIT"), proposed_license="MIT", min_card_completeness=0.5)
    assert codes(unknown.reasons) == ["card_incomplete"]
    assert publish(
        item("MIT"), proposed_license="MIT", card_completeness=0.8, min_card_completeness=0.8
    ).outcome == ("allowed")


def test_review_required_by_the_model_policy():
    own = carrying_terms(requires_review=True)
    decision = publish(item("MIT"), proposed_license="MIT", own_terms=own)
    assert decision.outcome == "review" and codes(decision.reasons) == ["review_required"]
    refused = publish(item("MIT", access=False), proposed_license="MIT", own_terms=own)
    assert refused.outcome == "refused"
    assert codes(refused.reasons) == ["missing_access", "review_required"]


# Everything at once -------------------------------------------------------------------------------


def test_every_reason_is_given_refusals_first():
    nc = item(
        "CC-BY-NC-4.0", name="acme/nc", terms=Terms("acme/nc@v1", "CC-BY-NC-4.0", prohibited_uses=("ads",))
    )
    hidden = item("GPL-3.0-only", name="other/gpl", owner="other", access=False)
    base = item("LicenseRef-openrail-m", role="base_model", name="bigscience/bloom")
    decision = publish(
        nc,
        hidden,
        base,
        intended_use=("commercial", "ads", "impersonation"),
        proposed_license="Apache-2.0",
        own_terms=Terms("beta/model@v1", "Apache-2.0", requires_review=True, max_theta=0.1),
        scores=Scores(theta=0.4),
        card_completeness=0.2,
        min_card_completeness=0.7,
    )
    assert decision.outcome == "refused"
    assert codes(decision.reasons) == [
        "missing_access",
        "prohibited_use",  # ads, by the policy of acme/nc
        "prohibited_use",  # impersonation, by the OpenRAIL-M licence
        "commercial_use",
        "restrictions_not_carried",
        "license_conflict",
        "threshold_exceeded",
        "card_incomplete",
        "license_undecidable",  # commercial use under an unknown licence
        "license_undecidable",  # no row for GPL data
        "review_required",
    ]
    assert codes(decision.obligations) == ["attribution", "carry_restrictions"]
    assert decision.allowed_licenses == ("CC-BY-NC-4.0",)


def test_attribution_required_by_a_policy():
    credited = item("MIT", role="base_model", terms=Terms("acme/credit@v1", "MIT"))
    assert codes(run(credited, proposed_license="MIT").obligations) == ["attribution"]
    silent = item("MIT", role="base_model", terms=Terms("acme/plain@v1", "MIT", attribution_required=False))
    assert run(silent, proposed_license="MIT").obligations == ()


# Data in and out ----------------------------------------------------------------------------------


def test_to_dict_is_json_with_builtins_only():
    request = Request(
        context="publication",
        requester="beta",
        inputs=[item("CC-BY-4.0", terms=Terms("acme/p@v1", "CC-BY-4.0", max_delta=0.1))],
        intended_use=["research"],
        proposed_license="MIT",
        own_terms=carrying_terms(),
        scores=Scores(delta=0.05),
        card_completeness=0.9,
    )
    decision = decide(request)
    payload = decision.to_dict()
    assert json.loads(json.dumps(payload)) == payload
    assert payload["outcome"] == "allowed"
    assert payload["obligations"][0]["code"] == "attribution"
    assert isinstance(payload["allowed_licenses"], list)
    assert json.loads(json.dumps(request.to_dict()))["inputs"][0]["terms"]["max_delta"] == 0.1


def test_invalid_choices_are_refused():
    with pytest.raises(ValueError, match="context"):
        Request(context="download", requester="beta", inputs=())
    with pytest.raises(ValueError, match="role"):
        item(role="tokenizer")
    with pytest.raises(ValueError, match="access_mode"):
        Terms("acme/p@v1", "MIT", access_mode="secret")


def test_the_engine_imports_no_django():
    code = (
        "import sys, governance.policy_engine; print(any(m.split('.')[0] == 'django' for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
