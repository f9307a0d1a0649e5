from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from api import services
from api.models import ApiToken
from api.scopes import SCOPES


class Command(BaseCommand):
    help = "Create, list or revoke API tokens. A new token's secret is printed once; only its hash is kept."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token and print its secret")
        create.add_argument("--name", required=True)
        create.add_argument("--scopes", required=True, help="comma-separated: " + ",".join(SCOPES))
        create.add_argument("--rate-limit", type=int, default=None, help="calls a minute (default: the setting)")
        revoke = sub.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix")
        sub.add_parser("list", help="list tokens (never their secrets)")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, *, name, scopes, rate_limit, **options):
        try:
            token, secret = services.token_create(
                name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()], rate_limit_per_minute=rate_limit
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stderr.write(
            f"Created token {token.prefix} “{token.name}” ({', '.join(token.scopes)}). Its secret, shown once:"
        )
        self.stdout.write(secret)

    def _revoke(self, *, prefix, **options):
        token = ApiToken.objects.filter(prefix=prefix).first()
        if token is None:
            raise CommandError(f"No token with prefix {prefix!r} (`manage.py api_token list` shows them).")
        if not services.token_revoke(token=token):
            raise CommandError(f"Token {prefix} was already revoked on {token.revoked_at:%Y-%m-%d %H:%M}.")
        self.stdout.write(f"Revoked token {prefix} “{token.name}”.")

    def _list(self, **options):
        for token in ApiToken.objects.all():
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"{token.prefix}  {state:<18} last used {used:<16}  {','.join(token.scopes)}  {token.name}"
            )
