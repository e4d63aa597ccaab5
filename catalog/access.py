"""Who may do what in which project. Used by the API, the dashboard, the admin and the consumers.

Roles are ranked: viewer < tester < maintainer. Superusers may do anything. A user who is not a member
of a project cannot see that it exists (the API answers 404, never 403, for its objects).
"""

from django.db.models import OuterRef, QuerySet, Subquery

from catalog.models import ROLE_RANK, Membership, Project, Role

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
    if user.is_staff or user.is_superuser:
        return None
    return visible_project_ids(user)


def visible_project_ids(user, needed: str = READ) -> QuerySet:
    """Ids of the projects where the user has at least `needed` (a subquery, not a list)."""
    if user.is_superuser:
        return Project.objects.values("id")
    roles = [r for r, rank in ROLE_RANK.items() if rank >= ROLE_RANK[needed]]
    return Membership.objects.filter(user=user, role__in=roles).values("project_id")
