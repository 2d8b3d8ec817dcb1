from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        from governance import audit

        audit.connect()

        from governance.services import access

        access.register_permission_rules()
