from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from revops.models import User


class Command(BaseCommand):
    help = "Print the API token of the user with this e-mail (created when there is none)."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
        if user is None:
            raise CommandError(f"No active user with the e-mail {email!r}.", returncode=1)
        token, _created = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
