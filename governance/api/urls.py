from rest_framework.routers import SimpleRouter

from governance.api import cards

router = SimpleRouter()
router.register("model-cards", cards.ModelCardViewSet, basename="model-card")

urlpatterns = router.urls
