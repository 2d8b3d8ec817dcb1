"""Issue a personal access token from the command line (it is printed once)."""

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from hub.models import AccessToken
from hub.services.tokens import issue_token


class Command(BaseCommand):
    help = "Create a personal access token for a user and print it once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--scope", choices=AccessToken.Scope.values, default=AccessToken.Scope.READ)

    def handle(self, *args, username, name, scope, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        self.stdout.write(issue_token(user=user, name=name, scope=scope).secret)
