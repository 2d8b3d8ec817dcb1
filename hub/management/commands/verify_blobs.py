"""Re-hash stored blobs and report the missing and corrupted ones with the versions that hold them."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Sum
from tqdm import tqdm

from hub.services import blobs


class Command(BaseCommand):
    help = (
        "Re-hash every blob of published model versions (or every blob with --all) and report missing "
        "and corrupted ones; exits 1 when there is any."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--all", action="store_true", dest="all_blobs",
            help="Every blob: model versions of any status, dataset versions and unreferenced blobs.",
        )  # fmt: skip
        parser.add_argument("--organization", default="", help="Only this organization's (slug).")
        parser.add_argument(
            "--model", default="", help="Only this model (org/slug, or slug with --organization)."
        )
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the report as JSON.")

    def handle(self, *args, all_blobs, organization, model, as_json, **options):
        scope = blobs.blobs_to_verify(all_blobs=all_blobs, organization=organization, model=model)
        total = scope.aggregate(total=Sum("size"))["total"] or 0
        # The bar goes to the raw stream: Django's wrapper would end every refresh with a new line.
        with tqdm(total=total, unit="B", unit_scale=True, desc="verifying", file=self.stderr._out) as bar:
            result = blobs.verify_blobs(scope.iterator(), on_bytes=bar.update)
        if as_json:
            self.stdout.write(json.dumps(_as_dict(result), indent=2))
        else:
            self._print(result)
        if not result.ok:
            raise CommandError(
                f"{len(result.missing)} missing and {len(result.corrupted)} corrupted blob(s)", returncode=1
            )

    def _print(self, result: blobs.Verification) -> None:
        for problem in result.problems:
            self.stdout.write(
                f"{problem.problem.upper()} {problem.sha256} ({problem.size} bytes): {problem.detail}"
            )
            for holder in problem.versions or ("held by no version",):
                self.stdout.write(f"  {holder}")
        self.stdout.write(
            f"checked {result.checked} blob(s), {result.bytes} bytes: "
            f"{len(result.missing)} missing, {len(result.corrupted)} corrupted"
        )


def _as_dict(result: blobs.Verification) -> dict:
    def listed(problems: list[blobs.BlobProblem]) -> list[dict]:
        return [
            {"sha256": p.sha256, "size": p.size, "detail": p.detail, "versions": list(p.versions)}
            for p in problems
        ]

    return {
        "checked": result.checked,
        "bytes": result.bytes,
        "missing": listed(result.missing),
        "corrupted": listed(result.corrupted),
    }
