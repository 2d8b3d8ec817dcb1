from rest_framework.routers import DefaultRouter

from hub.api import views

router = DefaultRouter()
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("dataset-versions", views.DatasetVersionViewSet, basename="dataset-version")
router.register("models", views.RegisteredModelViewSet, basename="model")
router.register("model-versions", views.ModelVersionViewSet, basename="model-version")
urlpatterns = router.urls
