"""The catalog's choices: member roles and the kinds, states and priorities of test cases. Apart
from the models so that case-content validation (catalog.steps) can name them without importing
the models that call it."""

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    TESTER = "tester", "Tester"
    MAINTAINER = "maintainer", "Maintainer"


# Ranks let permission checks say "at least a tester" instead of listing roles.
ROLE_RANK = {Role.VIEWER: 1, Role.TESTER: 2, Role.MAINTAINER: 3}


class CaseType(models.TextChoices):
    GENERIC = "generic", "Generic (automated actions)"
    BDD = "bdd", "BDD (Gherkin)"
    MANUAL = "manual", "Manual"


class CaseOrigin(models.TextChoices):
    """Where a case came from. Only authored cases hold steps to run; the others exist so results
    reported from outside (a JUnit import, a command step's JUnit output) have a history."""

    AUTHORED = "authored", "Authored"
    IMPORTED = "imported", "Imported (JUnit)"
    REPORTED = "reported", "Reported by a command step"


class CaseStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    DEPRECATED = "deprecated", "Deprecated"


class CasePriority(models.IntegerChoices):
    CRITICAL = 1, "Critical"
    HIGH = 2, "High"
    MEDIUM = 3, "Medium"
    LOW = 4, "Low"
