from rest_framework.routers import SimpleRouter

from training.api import views

router = SimpleRouter()
router.register("runs", views.RunViewSet, basename="run")
urlpatterns = router.urls
