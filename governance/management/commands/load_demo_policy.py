"""Give the demo data a usage policy: run after ``load_demo``; running it again changes nothing."""

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from governance.models import Policy
from governance.selectors import attached_policy
from governance.services.policies import attach_policy, create_policy
from hub.models import Dataset, Organization

DEMO_TERMS = {
    "license": "CC-BY-4.0",
    "allowed_uses": [],
    "prohibited_uses": ["medical-advice", "justice-law-enforcement-immigration", "social-scoring"],
    "commercial_use": True,
    "attribution_required": True,
    "access_mode": "open",
    "conditions": "Cite Kotzias et al. (2015), the source of the sentences.",
    "requires_review": True,
    "max_delta": 0.15,
    "max_epsilon": 0.1,
    "max_theta": 0.3,
}


class Command(BaseCommand):
    help = "Create demo-lab's usage policy and attach it to demo-lab/uci-sentiment."

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug="demo-lab").first()
        dataset = Dataset.objects.filter(organization=organization, slug="uci-sentiment").first()
        owner = User.objects.filter(username="demo").first()
        if organization is None or dataset is None or owner is None:
            raise CommandError("run `manage.py load_demo` first")
        policy = Policy.objects.filter(organization=organization, slug="research-and-education").first()
        if policy is None:
            policy = create_policy(
                user=owner,
                organization=organization,
                slug="research-and-education",
                name="Research and education",
                description="Open to every organization; no medical, justice or social-scoring uses.",
                terms=DEMO_TERMS,
            )
            self.stdout.write(f"created policy {policy}")
        if attached_policy(dataset) is None:
            attach_policy(user=owner, policy=policy, artifact=dataset)
            self.stdout.write(f"attached {policy} to {dataset.full_name}")
        self.stdout.write(self.style.SUCCESS("demo policy ready"))
