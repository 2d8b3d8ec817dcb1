from django.apps import AppConfig


class HubConfig(AppConfig):
    name = "hub"
    verbose_name = "Registry"

    def ready(self) -> None:
        from django.conf import settings

        # The embedded defaults keep their state under var/: make sure the folders exist.
        folders = [settings.AGORA_WORK_DIR]
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            folders += [settings.CELERY_BROKER_FOLDER / "messages", settings.CELERY_BROKER_FOLDER / "control"]
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
