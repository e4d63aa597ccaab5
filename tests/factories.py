"""factory-boy factories shared by every test module. Add new ones at the end of the file."""

import factory
from django.contrib.auth import get_user_model

from catalog.models import CaseType, Membership, Project, Role, SuiteItem, TestCase, TestSuite


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password("pw-for-tests-123")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")
    allowed_hosts = factory.LazyFunction(lambda: ["127.0.0.1", "localhost"])


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.TESTER


class TestCaseFactory(factory.django.DjangoModelFactory):
    __test__ = False  # not a pytest class

    class Meta:
        model = TestCase

    project = factory.SubFactory(ProjectFactory)
    key = factory.Sequence(lambda n: f"case-{n}")
    name = factory.Sequence(lambda n: f"Case {n}")
    type = CaseType.GENERIC
    steps = factory.LazyFunction(
        lambda: [
            {"name": "set x", "action": "set", "params": {"values": {"x": 1}}},
            {"name": "x is 1", "action": "assert", "params": {"variable": "x", "equals": 1}},
        ]
    )


class TestSuiteFactory(factory.django.DjangoModelFactory):
    __test__ = False

    class Meta:
        model = TestSuite

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Suite {n}")


class SuiteItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuiteItem

    suite = factory.SubFactory(TestSuiteFactory)
    case = factory.SubFactory(TestCaseFactory, project=factory.SelfAttribute("..suite.project"))
    order = factory.Sequence(lambda n: n)


def execution_for(case=None, *, suite=None, project=None, **kwargs):
    """A real execution created through the service (queued, with its first attempt and events)."""
    from executions.services.create import execution_create

    target_project = project or (case or suite).project
    return execution_create(project=target_project, test_case=case, test_suite=suite, **kwargs)
