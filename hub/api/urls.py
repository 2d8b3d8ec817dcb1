from rest_framework.permissions import AllowAny
from rest_framework.routers import APIRootView, DefaultRouter

from hub.api import datasets, models, organizations


class IndexView(APIRootView):
    """The API's index: the addresses of its collections, the same for everyone."""

    permission_classes = [AllowAny]


router = DefaultRouter()
router.APIRootView = IndexView
router.register("organizations", organizations.OrganizationViewSet, basename="organization")
router.register("datasets", datasets.DatasetViewSet, basename="dataset")
router.register("dataset-versions", datasets.DatasetVersionViewSet, basename="dataset-version")
router.register("models", models.RegisteredModelViewSet, basename="model")
router.register("model-versions", models.ModelVersionViewSet, basename="model-version")
urlpatterns = router.urls
