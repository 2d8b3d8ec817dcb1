from django.core.management.base import BaseCommand

from training import services


class Command(BaseCommand):
    help = (
        "Re-queue or fail running runs whose worker stopped sending heartbeats, and send again the task of "
        "queued runs no worker took (as celery beat does)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, help="Seconds without a heartbeat (default: setting).")
        parser.add_argument(
            "--queue-timeout",
            type=float,
            help="Seconds a queued run waits for a worker before its task is sent again (default: setting).",
        )

    def handle(self, *args, timeout=None, queue_timeout=None, **options):
        recovered = services.recover_stale_runs(timeout=timeout, queue_timeout=queue_timeout)
        for outcome in recovered:
            self.stdout.write(f"run {outcome.run_id}: {outcome.status} ({outcome.reason})")
        self.stdout.write(f"{len(recovered)} stale run(s) recovered.")
