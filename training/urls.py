from django.urls import path

from training import views

app_name = "training"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("runs/", views.run_list, name="run-list"),
    path("runs/new/", views.run_create, name="run-create"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run-cancel"),
    path("evaluations/new/", views.evaluation_create, name="evaluation-create"),
    path("o/<slug:org>/pools/", views.pool_list, name="pool-list"),
    path("o/<slug:org>/pools/<slug:slug>/share/", views.pool_share, name="pool-share"),
]
