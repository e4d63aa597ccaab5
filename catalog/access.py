"""Who may do what in which project: the one rule, and the one place it is checked.

Roles are ranked: viewer < tester < maintainer. Superusers may do anything. A user who is not a member
of a project cannot see that it exists (404, never 403, for its objects).

The rule is checked once per request, at the entry point, before any service is called, and only
through this module: API views, DRF permission classes and dashboard views call require() (404 for a
stranger, 403 for a role too low); WebSocket handshakes, and pages choosing which buttons to show,
ask has_role(). Services trust their caller: their `actor` is who to record, not who is allowed.
Why there: the 404 for an object outside your projects comes from the query the entry point found
it with, and several callers have no project role at all:
- the admin is the operators' (staff, is_operator()): Django's model permissions decide there, in
  every project;
- management commands, tasks, the worker and the scheduler act with the rights of whoever runs
  the server.
tests/test_security.py sends a stranger to every API operation and dashboard page and a viewer to
every write, so an entry point that forgets its check fails there.
"""

from django.db.models import OuterRef, QuerySet, Subquery

from catalog.models import ROLE_RANK, Membership, Project, Role
from core.errors import NotFound, PermissionDenied

READ = Role.VIEWER
RUN = Role.TESTER  # start, cancel, re-run executions; record manual steps
WRITE = Role.MAINTAINER  # edit the catalog, runner profiles, project settings


def role_in(user, project_id: int) -> str | None:
    if not user or not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.MAINTAINER
    cache = _roles_known(user)
    if project_id not in cache:
        cache[project_id] = (
            Membership.objects.filter(user=user, project_id=project_id)
            .values_list("role", flat=True)
            .first()
        )
    return cache[project_id]


def with_role_of(queryset: QuerySet, user) -> QuerySet:
    """`queryset` (of objects with a `project`) annotated with `user`'s role in each object's
    project as `role_of_user`: one query answers "may you see it" and "what may you do with it".
    Hand the value to remember_role so that role_in does not ask again."""
    role = Membership.objects.filter(user=user, project_id=OuterRef("project_id")).values("role")
    return queryset.annotate(role_of_user=Subquery(role[:1]))


def remember_role(user, project_id: int, role: str | None) -> None:
    if user and user.is_authenticated and not user.is_superuser:
        _roles_known(user)[project_id] = role


def _roles_known(user) -> dict:
    """The user's roles looked up so far, by project id (kept on the user object: one request)."""
    return user.__dict__.setdefault("_ib_roles", {})


def has_role(user, project_id: int, needed: str) -> bool:
    role = role_in(user, project_id)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


def require(user, project_id: int, needed: str, *, hidden: str = "Not found.") -> None:
    """Return only if `user` has at least the `needed` role in project `project_id`.

    Raises NotFound(`hidden`) when the user cannot see the project: callers word `hidden` as for
    an object that does not exist, so the answer tells a stranger nothing. Raises
    PermissionDenied when the user is a member whose role is too low.
    """
    if role_in(user, project_id) is None:
        raise NotFound(hidden)
    if not has_role(user, project_id, needed):
        label = Role(needed).label.lower()
        raise PermissionDenied(f"This needs the {label} role or above in the project.")


def is_operator(user) -> bool:
    """Staff and superusers: they work in the admin and hold the installation-wide switches
    (the queue pause), which would let a project's maintainer stop every other project."""
    return bool(user and user.is_authenticated and (user.is_staff or user.is_superuser))


def visible_projects(user) -> QuerySet[Project]:
    if not user or not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def figures_scope(user) -> QuerySet | None:
    """The projects whose work counts in the figures `user` sees summed up (queue depth, running,
    throughput, workers): None for operators (staff and superusers), who see the whole
    installation; otherwise the user's own projects. A total over all projects would tell any
    signed-in user how busy projects they cannot see are (the API, the queue page and the
    overview use this one rule)."""
    if is_operator(user):
        return None
    return visible_project_ids(user)


def visible_project_ids(user, needed: str = READ) -> QuerySet:
    """Ids of the projects where the user has at least `needed` (a subquery, not a list)."""
    if user.is_superuser:
        return Project.objects.values("id")
    roles = [r for r, rank in ROLE_RANK.items() if rank >= ROLE_RANK[needed]]
    return Membership.objects.filter(user=user, role__in=roles).values("project_id")
