from django.urls import path
from rest_framework.routers import SimpleRouter

from governance.api import access, audit, cards, policies, publication, scores

router = SimpleRouter()
router.register("model-cards", cards.ModelCardViewSet, basename="model-card")
router.register("audit-events", audit.AuditEventViewSet, basename="audit-event")
router.register("publications", publication.PublicationViewSet, basename="publication")
router.register("policies", policies.PolicyViewSet, basename="policy")
router.register("access-requests", access.AccessRequestViewSet, basename="access-request")
router.register("access-grants", access.AccessGrantViewSet, basename="access-grant")
router.register("score-snapshots", scores.ScoreSnapshotViewSet, basename="score-snapshot")

urlpatterns = router.urls
urlpatterns += [
    path("scores/", scores.HubScoresView.as_view(), name="scores-hub"),
    path(
        "scores/organizations/<slug:slug>/",
        scores.OrganizationScoresView.as_view(),
        name="scores-organization",
    ),
    path(
        "scores/model-versions/<int:pk>/",
        scores.ModelVersionObjectiveView.as_view(),
        name="scores-model-version",
    ),
]
