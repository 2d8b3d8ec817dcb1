from django.urls import path

from governance.views import access, audit, cards, policies, publication, reports, scores

app_name = "governance"

urlpatterns = [
    path("o/<slug:org>/access/", access.access_inbox, name="access-inbox"),
    path("o/<slug:org>/access/requests/<int:pk>/decide/", access.access_decide, name="access-decide"),
    path("o/<slug:org>/access/requests/<int:pk>/withdraw/", access.access_withdraw, name="access-withdraw"),
    path("o/<slug:org>/access/grants/<int:pk>/revoke/", access.grant_revoke, name="grant-revoke"),
    path(
        "o/<slug:org>/datasets/<slug:slug>/access/",
        access.request_access_page,
        {"kind": "dataset"},
        name="dataset-access-request",
    ),
    path(
        "o/<slug:org>/models/<slug:slug>/access/",
        access.request_access_page,
        {"kind": "model"},
        name="model-access-request",
    ),
    path("o/<slug:org>/policies/", policies.policy_list, name="policy-list"),
    path("o/<slug:org>/policies/new/", policies.policy_create, name="policy-create"),
    path("o/<slug:org>/policies/<slug:slug>/", policies.policy_detail, name="policy"),
    path(
        "o/<slug:org>/policies/<slug:slug>/versions/new/",
        policies.policy_version_create,
        name="policy-version-create",
    ),
    path("o/<slug:org>/policies/<slug:slug>/attach/", policies.policy_attach, name="policy-attach"),
    path(
        "o/<slug:org>/datasets/<slug:slug>/policy/",
        policies.artifact_policy,
        {"kind": "dataset"},
        name="dataset-policy",
    ),
    path(
        "o/<slug:org>/models/<slug:slug>/policy/",
        policies.artifact_policy,
        {"kind": "model"},
        name="model-policy",
    ),
    path("reports/<int:pk>/", reports.report_detail, name="report"),
    path(
        "o/<slug:org>/models/<slug:slug>/v<int:number>/publish/",
        publication.publication_request,
        name="publication-request",
    ),
    path(
        "o/<slug:org>/models/<slug:slug>/v<int:number>/deprecate/",
        publication.version_deprecate,
        name="version-deprecate",
    ),
    path("o/<slug:org>/audit/", audit.audit_log, name="audit"),
    path("o/<slug:org>/models/<slug:slug>/v<int:number>/card/", cards.card_page, name="card"),
    path("o/<slug:org>/models/<slug:slug>/v<int:number>/card/edit/", cards.card_edit, name="card-edit"),
    path(
        "o/<slug:org>/models/<slug:slug>/v<int:number>/card/README.md",
        cards.card_readme,
        name="card-readme",
    ),
    path("scores/", scores.hub_scores_page, name="scores"),
    path("scores/<slug:factor>/", scores.factor_records_page, name="score-factor"),
    path("o/<slug:org>/scores/", scores.organization_scores_page, name="organization-scores"),
    path("o/<slug:org>/scores/<slug:factor>/", scores.factor_records_page, name="organization-score-factor"),
]
