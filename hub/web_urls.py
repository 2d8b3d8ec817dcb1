from django.urls import path

from hub.views import datasets, files, models, organizations, search, tokens

app_name = "hub"
urlpatterns = [
    path("search/", search.search, name="search"),
    path("datasets/", datasets.dataset_list, name="dataset-list"),
    path("datasets/new/", datasets.dataset_create, name="dataset-create"),
    path("models/", models.model_list, name="model-list"),
    path("models/new/", models.model_create, name="model-create"),
    path("files/datasets/<int:pk>/", files.dataset_file, name="dataset-file"),
    path("files/models/<int:pk>/", files.model_file, name="model-file"),
    path("settings/tokens/", tokens.tokens, name="tokens"),
    path("settings/tokens/<int:pk>/revoke/", tokens.token_revoke, name="token-revoke"),
    path("organizations/new/", organizations.organization_create, name="organization-create"),
    path("o/<slug:org>/", organizations.organization, name="organization"),
    path("o/<slug:org>/members/", organizations.member_add, name="member-add"),
    path("o/<slug:org>/members/<str:username>/", organizations.member_change, name="member-change"),
    path("o/<slug:org>/datasets/<slug:slug>/", datasets.dataset_detail, name="dataset"),
    path("o/<slug:org>/datasets/<slug:slug>/datasheet/", datasets.datasheet_edit, name="datasheet"),
    path(
        "o/<slug:org>/datasets/<slug:slug>/versions/new/",
        datasets.version_create,
        name="dataset-version-create",
    ),
    path("o/<slug:org>/models/<slug:slug>/", models.model_detail, name="model"),
    path("o/<slug:org>/models/<slug:slug>/aliases/", models.alias_move, name="alias-move"),
    path("o/<slug:org>/models/<slug:slug>/v<int:number>/", models.model_version_detail, name="model-version"),
    path(
        "o/<slug:org>/models/<slug:slug>/versions/new/",
        models.model_version_create,
        name="model-version-create",
    ),
]
