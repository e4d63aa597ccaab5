from catalog.models.choices import ROLE_RANK, CaseOrigin, CasePriority, CaseStatus, CaseType, Role
from catalog.models.profiles import RunnerProfile
from catalog.models.projects import Membership, Project, SuiteItem, TestCase, TestSuite

__all__ = [
    "ROLE_RANK",
    "CaseOrigin",
    "CasePriority",
    "CaseStatus",
    "CaseType",
    "Membership",
    "Project",
    "Role",
    "RunnerProfile",
    "SuiteItem",
    "TestCase",
    "TestSuite",
]
