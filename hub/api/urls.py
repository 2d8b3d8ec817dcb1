from rest_framework.routers import DefaultRouter

from hub.api import datasets, models, organizations

router = DefaultRouter()
router.register("organizations", organizations.OrganizationViewSet, basename="organization")
router.register("datasets", datasets.DatasetViewSet, basename="dataset")
router.register("dataset-versions", datasets.DatasetVersionViewSet, basename="dataset-version")
router.register("models", models.RegisteredModelViewSet, basename="model")
router.register("model-versions", models.ModelVersionViewSet, basename="model-version")
urlpatterns = router.urls
