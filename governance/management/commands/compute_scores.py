"""Compute the collaboration scores E and C of the hub and of each organization, print them, and store
the day's snapshots (E, C and the F of published versions) unless told not to."""

from __future__ import annotations

from datetime import date as Date

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from governance.metrics.scores import Score
from governance.scores import Scores, hub_scores, organization_scores
from governance.services.snapshots import snapshot_window, store_snapshots
from hub.models import Organization


def _positive_days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        days = 0
    if days < 1:
        raise CommandError(f"--days must be a whole number of days, 1 or more (got {value!r})")
    return days


def _snapshot_date(value: str) -> Date:
    try:
        day = Date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be a date written YYYY-MM-DD (got {value!r})") from None
    if day > timezone.localdate():
        raise CommandError(
            f"--date {value} is in the future: the scores of a day are known once it has begun"
        )
    return day


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _describe(score: Score) -> str:
    if score.value is None:
        return f"{score.symbol}   n/a (n/a factors: {', '.join(score.missing)})".ljust(42)
    bottleneck = score.bottleneck
    return (
        f"{score.symbol} {_number(score.geometric_mean)} "
        f"(product {_number(score.value)}, bottleneck {bottleneck.key if bottleneck else '-'})"
    ).ljust(42)


class Command(BaseCommand):
    help = (
        "Compute the collaboration effect E and the collaborative capability C of the hub and of each "
        "organization (headline geometric mean, product, bottleneck factor), print them and store the "
        "day's snapshots."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        # The values are checked in handle(), so that a bad one is a CommandError with its own message.
        parser.add_argument("--days", help="Length of the window in days (default AGORA_SCORE_WINDOW_DAYS).")
        parser.add_argument("--date", help="Day of the snapshot, YYYY-MM-DD (default today).")
        parser.add_argument("--no-store", action="store_true", help="Print the scores, store nothing.")
        parser.add_argument("--organization", help="Only this organization (slug).")

    def handle(self, *args, **options) -> None:
        days = _positive_days(options["days"]) if options["days"] is not None else None
        day = _snapshot_date(str(options["date"])) if options["date"] is not None else timezone.localdate()
        organization = None
        if options["organization"] is not None:
            organization = Organization.objects.filter(slug=options["organization"]).first()
            if organization is None:
                raise CommandError(f"no organization with the slug {options['organization']!r}")

        window = snapshot_window(day, days)
        per_organization = organization_scores(window)
        hub = None if organization is not None else hub_scores(window, per_organization=per_organization)
        self.stdout.write(
            f"window {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} ({window.days} days)"
        )
        if hub is not None:
            self.stdout.write(self._line("hub", hub))
        organizations = Organization.objects.order_by("slug")
        if organization is not None:
            organizations = organizations.filter(pk=organization.pk)
        for slug, organization_id in organizations.values_list("slug", "pk"):
            if organization_id in per_organization:  # not one created since the scores were computed
                self.stdout.write(self._line(slug, per_organization[organization_id]))

        if options["no_store"]:
            return
        with tqdm(desc="snapshots", unit="subject", leave=False) as bar:

            def advance(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            stored = store_snapshots(
                date=day,
                window=window,
                hub=hub,
                per_organization=per_organization,
                organization=organization,
                progress=advance,
            )
        self.stdout.write(self.style.SUCCESS(f"stored {stored} snapshots for {day.isoformat()}"))

    def _line(self, name: str, scores: Scores) -> str:
        return f"{name:<30} {_describe(scores.effect)} {_describe(scores.capability)}".rstrip()
