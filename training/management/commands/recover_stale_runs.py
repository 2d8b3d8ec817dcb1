from django.core.management.base import BaseCommand

from training import services


class Command(BaseCommand):
    help = "Re-queue or fail running runs whose worker stopped sending heartbeats (as celery beat does)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, help="Seconds without a heartbeat (default: setting).")

    def handle(self, *args, timeout=None, **options):
        recovered = services.recover_stale_runs(timeout=timeout)
        for outcome in recovered:
            self.stdout.write(f"run {outcome.run_id}: {outcome.status} ({outcome.reason})")
        self.stdout.write(f"{len(recovered)} stale run(s) recovered.")
