from django.urls import path

from hub import views

app_name = "hub"
urlpatterns = [
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/new/", views.dataset_create, name="dataset-create"),
    path("models/", views.model_list, name="model-list"),
    path("files/datasets/<int:pk>/", views.dataset_file, name="dataset-file"),
    path("files/models/<int:pk>/", views.model_file, name="model-file"),
    path("settings/tokens/", views.tokens, name="tokens"),
    path("settings/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("o/<slug:org>/", views.organization, name="organization"),
    path("o/<slug:org>/datasets/<slug:slug>/", views.dataset_detail, name="dataset"),
    path("o/<slug:org>/models/<slug:slug>/", views.model_detail, name="model"),
    path("o/<slug:org>/models/<slug:slug>/v<int:number>/", views.model_version_detail, name="model-version"),
]
