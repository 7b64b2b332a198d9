"""`manage.py create_admin USERNAME`: the first staff user, with no prompt.

On AWS the worker function runs it (`{"manage": "create_admin admin --email …"}`); Django's
`createsuperuser` prompts for a password, which a Lambda invocation cannot answer. The new
password is generated and printed once, in the command's output.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

PASSWORD_BYTES = 18  # 24 URL-safe characters


class Command(BaseCommand):
    help = (
        "Create a superuser with a generated password, printed once (no prompt, so it runs "
        "as a Lambda invocation). An existing user is left alone unless --reset-password."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username", help="The new user's login name.")
        parser.add_argument("--email", default="", help="The user's e-mail address.")
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="If the user exists, give it a new generated password (and staff rights).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"].strip()
        email = options["email"].strip()
        if not username:
            raise CommandError("The username must not be empty.")
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise CommandError(f"{email!r} is not an e-mail address.") from None
        users = get_user_model()
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        user = users.objects.filter(username=username).first()
        if user is not None and not options["reset_password"]:
            raise CommandError(
                f"The user {username!r} exists already; add --reset-password to give it a new "
                "password."
            )
        if user is None:
            users.objects.create_superuser(username=username, email=email, password=password)
            self.stdout.write(f"Created the superuser {username!r}.")
        else:
            user.set_password(password)
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["password", "is_staff", "is_superuser"])
            self.stdout.write(f"Set a new password for {username!r}.")
        self.stdout.write(f"Password (shown once): {password}")
