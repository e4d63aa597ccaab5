"""DRF permission classes: catalog.access's rule applied to API requests.

Viewsets filter their querysets to the projects a user can see, so an object of another project is
a 404 before these classes run; these classes decide what a member may do with what they can see.
They raise access.require()'s refusal rather than return False, so the answer says which role the
action needs.
"""

from collections.abc import Mapping

from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated

from catalog.access import READ, WRITE, is_operator, require
from catalog.models import Project
from core.ids import parse_id


def project_id_of(obj) -> int:
    return obj.pk if isinstance(obj, Project) else obj.project_id


class ProjectRole(IsAuthenticated):
    """Members read (viewer and up); writing needs `write_role` in the object's project.

    Subclasses for runs set `write_role = RUN`: testers start runs but do not edit the catalog.
    """

    write_role = WRITE

    def has_object_permission(self, request, view, obj) -> bool:
        needed = READ if request.method in SAFE_METHODS else self.write_role
        require(request.user, project_id_of(obj), needed)
        return True


class ProjectRoleOnCreate(ProjectRole):
    """Also checks `create`, whose project comes from the request body.

    A project the user cannot see answers 404 "Project not found." (the same as a project that
    does not exist), so a stranger learns nothing about it; a visible project where the user's
    role is too low answers 403. A missing or malformed `project` (not a whole number, or one no
    id can be) is left to the serializer (400).
    """

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        if getattr(view, "action", None) != "create":
            return True
        project_id = _project_id_in(request.data)
        if project_id is not None:
            require(request.user, project_id, self.write_role, hidden="Project not found.")
        return True


class Operator(BasePermission):
    """Installation-wide switches (the queue pause): operators only (access.is_operator)."""

    def has_permission(self, request, view) -> bool:
        return is_operator(request.user)


def _project_id_in(data: object) -> int | None:
    if not isinstance(data, Mapping):
        return None
    return parse_id(data.get("project"))
