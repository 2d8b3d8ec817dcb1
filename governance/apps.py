from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        from governance import audit

        audit.connect()

        from governance.services import access

        access.register_permission_rules()

        from django.db.models.signals import post_save

        from governance.services.cards import refresh_on_new_version
        from hub.models import ModelVersion

        post_save.connect(refresh_on_new_version, sender=ModelVersion, dispatch_uid="card-completeness")
