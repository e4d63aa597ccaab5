"""Personas and clients shared by every test.

owner (maintainer of `project`), member (tester), viewer, stranger (member of another project only),
anonymous. API clients are DRF APIClients logged in as each persona.
"""

from uuid import uuid4

import pytest
from rest_framework.test import APIClient

from catalog.models import Role
from tests import template_db
from tests.factories import MembershipFactory, ProjectFactory


def pytest_configure(config):
    # The controlling process of an xdist run migrates once for all its test processes.
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        template_db.create()


# Tests that take tens of seconds: real servers, workers and browsers, the fuzz runs, the migration
# round trips. Where they fall in a process's queue decides the run's tail.
SLOW_MARKS = ("live", "browser", "fuzz")
SLOW_MODULES = ("test_migrations_move.py", "test_chaos.py")


def _slow(item) -> bool:
    return item.path.name in SLOW_MODULES or any(item.get_closest_marker(m) for m in SLOW_MARKS)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Under xdist, deal the slow tests out to every process and put them at the front of each
    process's share. The worksteal scheduler gives each process a contiguous quarter of this list
    and lets idle ones take from the back of busy ones' queues: a slow test that starts early
    finishes under the others' short ones, one left at the back of a queue is the run's tail.
    Every process sorts alike (the scheduler checks that they collected the same list)."""
    workers = getattr(config, "workerinput", {}).get("workercount")
    if not workers or workers < 2:
        return
    slow, rest = [], []
    for item in items:
        (slow if _slow(item) else rest).append(item)
    # The shares' sizes are those the scheduler will cut: len // workers left, in order.
    sizes, left = [], len(items)
    for remaining in range(workers, 0, -1):
        sizes.append(left // remaining)
        left -= sizes[-1]
    shares = [slow[i::workers] for i in range(workers)]
    for share, size in zip(shares, sizes, strict=True):
        take = max(0, size - len(share))
        share.extend(rest[:take])
        del rest[:take]
    shares[-1].extend(rest)  # only if a share had more slow tests than its size
    items[:] = [item for share in shares for item in share]


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):
        template_db.drop_template()


@pytest.fixture(scope="session")
def django_db_keepdb(request, django_db_modify_db_settings):
    """Kept, so pytest-django neither re-creates the clone of the run's template nor drops it:
    that is done here (tests/template_db.py). Without a template, as pytest-django decides."""
    cloned = template_db.clone()
    yield bool(cloned) or request.config.getvalue("reuse_db")
    if cloned:
        template_db.drop_clone(cloned)


@pytest.fixture
def project(db):
    return ProjectFactory()


@pytest.fixture
def other_project(db):
    return ProjectFactory()


@pytest.fixture
def owner(project):
    return MembershipFactory(project=project, role=Role.MAINTAINER).user


@pytest.fixture
def member(project):
    return MembershipFactory(project=project, role=Role.TESTER).user


@pytest.fixture
def viewer(project):
    return MembershipFactory(project=project, role=Role.VIEWER).user


@pytest.fixture
def stranger(other_project):
    return MembershipFactory(project=other_project, role=Role.MAINTAINER).user


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The user factory hashes a password per user (~0.2 s with PBKDF2); the tests make many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    # Rate-limit counters live in the cache: every test starts with none. A key prefix of its own
    # rather than cache.clear(), which on Redis would flush the whole database, shared with the
    # channel layer, the broker and any other test run.
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"t-{uuid4().hex}"}}


def _client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api_for():
    """api_for(user) -> an APIClient authenticated as user (None: anonymous)."""
    return _client_for


@pytest.fixture
def owner_api(owner):
    return _client_for(owner)


@pytest.fixture
def member_api(member):
    return _client_for(member)


@pytest.fixture
def viewer_api(viewer):
    return _client_for(viewer)


@pytest.fixture
def stranger_api(stranger):
    return _client_for(stranger)


@pytest.fixture
def anon_api():
    return _client_for(None)
