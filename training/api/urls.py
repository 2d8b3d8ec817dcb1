from rest_framework.routers import SimpleRouter

from training.api import views

router = SimpleRouter()
router.register("runs", views.RunViewSet, basename="run")
router.register("pools", views.PoolViewSet, basename="pool")
router.register("evaluations", views.EvaluationViewSet, basename="evaluation")
urlpatterns = router.urls
