"""manage.py bootstrap_admin: a first superuser, only if it does not exist yet.

Name and password from ADMIN_USERNAME / ADMIN_PASSWORD (default admin / admin, printed so a new
user knows how to log in). With DEBUG off there is no default password: a production admin/admin
is the first thing anyone tries. Makes the user a maintainer of
the Demo project when load_demo has created it. Running it again changes nothing.
"""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from catalog import services as catalog
from catalog.models import Membership, Project, Role

DEMO_SLUG = "demo"


class Command(BaseCommand):
    help = "Create the first superuser from ADMIN_USERNAME / ADMIN_PASSWORD if it is missing."

    def handle(self, *args, **options) -> None:
        username = os.environ.get("ADMIN_USERNAME") or "admin"
        password = os.environ.get("ADMIN_PASSWORD") or ""
        users = get_user_model()
        if not password and not settings.DEBUG and not users.objects.filter(username=username):
            raise CommandError("Set ADMIN_PASSWORD: with DEBUG off there is no default password.")
        with transaction.atomic():
            user = users.objects.filter(username=username).first()
            if user is None:
                user = users.objects.create_superuser(username, "", password or "admin")
                shown = (
                    "from ADMIN_PASSWORD" if password else "admin (set ADMIN_PASSWORD to change)"
                )
                self.stdout.write(f"Created superuser '{username}', password {shown}.")
            else:
                self.stdout.write(f"Superuser '{username}' exists; left unchanged.")
            project = Project.objects.filter(slug=DEMO_SLUG).first()
            if (
                project is not None
                and not Membership.objects.filter(
                    project=project, user=user, role=Role.MAINTAINER
                ).exists()
            ):
                catalog.membership_set(project, user=user, role=Role.MAINTAINER)
                self.stdout.write(f"'{username}' is now a maintainer of the Demo project.")
