"""Register a Hugging Face model directory on this server as a checkpoint (origin ``upload``)."""

from pathlib import Path

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from hub.models import Organization, Visibility
from hub.services.models import import_checkpoint


class Command(BaseCommand):
    help = "Import a checkpoint directory (config.json, *.safetensors, tokenizer files) into an organization."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--org", required=True, help="Organization slug.")
        parser.add_argument("--slug", required=True, help="Model slug in the organization.")
        parser.add_argument("--license", required=True, help="SPDX id or LicenseRef-<name>.")
        parser.add_argument("--user", required=True, help="Username recorded as the creator.")
        parser.add_argument("--name", default="")
        parser.add_argument("--visibility", choices=Visibility.values, default=Visibility.PRIVATE)

    def handle(self, *args, path, org, slug, license, user, name, visibility, **options):
        try:
            organization = Organization.objects.get(slug=org)
            creator = User.objects.get(username=user)
        except (Organization.DoesNotExist, User.DoesNotExist) as exc:
            raise CommandError(str(exc)) from None
        try:
            version = import_checkpoint(
                user=creator, organization=organization, slug=slug, directory=path.resolve(),
                license=license, name=name, visibility=visibility,
            )  # fmt: skip
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        self.stdout.write(self.style.SUCCESS(f"imported {version} ({version.num_parameters:,} parameters)"))
