from rest_framework.routers import SimpleRouter

from governance.api import access, audit, cards, policies, publication

router = SimpleRouter()
router.register("model-cards", cards.ModelCardViewSet, basename="model-card")
router.register("audit-events", audit.AuditEventViewSet, basename="audit-event")
router.register("publications", publication.PublicationViewSet, basename="publication")
router.register("policies", policies.PolicyViewSet, basename="policy")
router.register("access-requests", access.AccessRequestViewSet, basename="access-request")
router.register("access-grants", access.AccessGrantViewSet, basename="access-grant")

urlpatterns = router.urls
