"""The CI hook (start a suite run, signed or with a token), its secret, and the suite badge."""

import hmac

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import access
from catalog.models import TestSuite
from core import errors
from core.inert import served_inert
from results import selectors
from results.api.common import AnyAccept
from results.badges import badge_svg
from results.errors import HookUnauthenticated
from results.hooks import SIGNATURE_HEADER, TOKEN_HEADER, hook_trigger, hook_verify
from results.models import SuiteHook
from results.serializers import HookRunResultSerializer, HookRunSerializer, SuiteHookSerializer
from results.services import hook_rotate


def _suite_for(user, suite_id: int, needed: str) -> TestSuite:
    """The suite, if `user` has the `needed` role in its project. A suite that does not exist and
    one of a project the user is not in get the same 404, word for word (no existence oracle)."""
    suite = TestSuite.objects.select_related("project").filter(pk=suite_id).first()
    if suite is None:
        raise errors.NotFound("Suite not found.")
    access.require(user, suite.project_id, needed, hidden="Suite not found.")
    return suite


def _hook_of(suite: TestSuite) -> SuiteHook | None:
    return SuiteHook.objects.filter(suite=suite).first()


def _hook_urls(request, suite: TestSuite, hook) -> dict:
    run = request.build_absolute_uri(f"/api/v1/hooks/suites/{suite.pk}/run/")
    badge = None
    if hook is not None:
        badge = request.build_absolute_uri(
            f"/api/v1/suites/{suite.pk}/badge.svg?key={hook.badge_key}"
        )
    return {"run_url": run, "badge_url": badge}


class SuiteHookView(APIView):
    """See a suite's CI hook (members), or create / rotate its secret (maintainers)."""

    def _body(self, request, suite, hook, secret: str | None = None) -> dict:
        body = {
            "suite": suite.pk,
            "configured": hook is not None,
            "enabled": bool(hook and hook.enabled),
            "rotated_at": hook.rotated_at if hook else None,
            "last_triggered_at": hook.last_triggered_at if hook else None,
            **_hook_urls(request, suite, hook),
        }
        if secret:
            body["secret"] = secret
        return body

    @extend_schema(
        summary="The suite's CI hook (without its secret)", responses=SuiteHookSerializer
    )
    def get(self, request, suite_id: int):
        suite = _suite_for(request.user, suite_id, access.READ)
        return Response(self._body(request, suite, _hook_of(suite)))

    @extend_schema(
        summary="Create the suite's CI hook or rotate its secret and badge key (maintainers)",
        request=None,
        responses=SuiteHookSerializer,
    )
    def post(self, request, suite_id: int):
        suite = _suite_for(request.user, suite_id, access.WRITE)
        hook = hook_rotate(suite, actor=request.user)
        return Response(self._body(request, suite, hook, hook.secret))


class SuiteHookRunView(APIView):
    """The CI hook itself: start a suite run. Signed or token-authenticated (see results.hooks),
    or called with a user's own API token (tester role)."""

    permission_classes = [AllowAny]

    @extend_schema(
        summary="Start a suite run from CI",
        description=f"Authenticate with {SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the body> "
        f"or {TOKEN_HEADER}: <secret>, or a user API token with the tester role.",
        parameters=[
            OpenApiParameter(SIGNATURE_HEADER, str, OpenApiParameter.HEADER),
            OpenApiParameter(TOKEN_HEADER, str, OpenApiParameter.HEADER),
        ],
        request=HookRunSerializer,
        responses={201: HookRunResultSerializer},
    )
    def post(self, request, suite_id: int):
        signature = request.headers.get(SIGNATURE_HEADER, "")
        token = request.headers.get(TOKEN_HEADER, "")
        # Credentials first, the suite after: an unknown id must answer like a known one.
        if signature or token:
            hook = hook_verify(suite_id, body=request.body, signature=signature, token=token)
            suite, actor = hook.suite, None
        elif request.user.is_authenticated:
            suite = _suite_for(request.user, suite_id, access.RUN)
            hook, actor = None, request.user
        else:
            raise HookUnauthenticated(
                f"Sign the body ({SIGNATURE_HEADER}) or send {TOKEN_HEADER} or an API token."
            )
        serializer = HookRunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        execution = hook_trigger(suite, hook=hook, actor=actor, **serializer.validated_data)
        links = {
            "self": request.build_absolute_uri(f"/api/v1/executions/{execution.pk}/"),
            "dashboard": request.build_absolute_uri(f"/executions/{execution.pk}/"),
            "report": request.build_absolute_uri(f"/api/v1/executions/{execution.pk}/report/"),
        }
        body = {"execution": execution.pk, "status": execution.status, "links": links}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": links["self"]})


class SuiteBadgeView(APIView):
    """The latest finished run's outcome as an SVG badge. Read with the suite's badge key
    (`?key=`, safe to put in a README: it reads the badge and nothing else) or as a member."""

    permission_classes = [AllowAny]
    content_negotiation_class = AnyAccept

    @extend_schema(
        summary="SVG status badge of a suite",
        parameters=[OpenApiParameter("key", str, description="The suite's badge key.")],
        responses={(200, "image/svg+xml"): OpenApiResponse(OpenApiTypes.STR)},
    )
    def get(self, request, suite_id: int):
        # Credentials first, the suite after: an unknown id must answer like a known one.
        key = request.query_params.get("key", "")
        if key:
            hook = SuiteHook.objects.select_related("suite").filter(suite_id=suite_id).first()
            if hook is None or not hmac.compare_digest(hook.badge_key.encode(), key.encode()):
                raise NotFound("Suite not found.")
            suite = hook.suite
        elif not request.user.is_authenticated:
            raise NotAuthenticated("Add the suite's badge key (?key=) or sign in.")
        else:
            suite = _suite_for(request.user, suite_id, access.READ)

        latest = selectors.suite_latest_finished_run(suite.pk)
        svg = badge_svg(suite.name, latest.status if latest else None)
        response = HttpResponse(svg, content_type="image/svg+xml")
        response["Cache-Control"] = "no-cache, max-age=0"  # READMEs must show the latest run
        # An SVG is a document that may run script; the suite name in it is a user's text.
        return served_inert(response)
