from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Fine-tuning"

    def ready(self) -> None:
        from governance.scores import register_runs
        from training.models import FineTuneRun

        # The scores count runs (multi-organization runs, shared data consumed, pool time).
        register_runs(lambda: FineTuneRun.objects.all())
