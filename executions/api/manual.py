"""POST /api/v1/executions/{id}/steps/{order}/result/: a tester records one manual step.

JSON or multipart (for an attachment). The view checks access (a stranger gets 404, a viewer 403)
and shapes; executions.services.manual.execution_record_manual_step does the rest (400 / 409 / 413).
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import access
from core import serializers as strict
from core.parsers import JSONParser
from executions import selectors
from executions.models import ExecutionStatus
from executions.services.manual import MANUAL_STATUSES, MAX_TEXT_CHARS, execution_record_manual_step


class ManualStepInputSerializer(serializers.Serializer):
    status = strict.ChoiceField(choices=[(s, s) for s in MANUAL_STATUSES])
    actual = strict.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_TEXT_CHARS
    )
    note = strict.CharField(required=False, allow_blank=True, default="", max_length=MAX_TEXT_CHARS)
    attachment = serializers.FileField(required=False, allow_empty_file=True)
    attempt = strict.IntegerField(
        required=False,
        min_value=1,
        help_text="The attempt number this result is for. When given and the execution has "
        "moved on to another attempt (re-run or re-queued), the result is refused with 409 "
        "stale_attempt instead of landing in the new attempt.",
    )


class StepAttachmentSerializer(serializers.Serializer):
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField()


class ManualStepSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    expected = serializers.CharField(allow_blank=True, allow_null=True)
    actual = serializers.CharField(allow_blank=True, allow_null=True)
    note = serializers.CharField(allow_blank=True)
    recorded_by = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()
    attachments = StepAttachmentSerializer(many=True)


class ManualStepResultSerializer(serializers.Serializer):
    step = ManualStepSerializer()
    execution_id = serializers.IntegerField()
    execution_status = serializers.ChoiceField(choices=ExecutionStatus.choices)
    status_reason = serializers.CharField(allow_blank=True)


class ManualStepResultView(APIView):
    permission_classes = [IsAuthenticated]
    # JSON (the API's hardened parser) or multipart for an attachment; form-encoded bodies are
    # not advertised, so they are not accepted either.
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        summary="Record the result of one manual step",
        description="Testers and above. Recording the last missing step completes the execution "
        "(failed if a step failed, error if one is blocked, else passed). Send multipart/form-data "
        "to attach a file.",
        request={
            "application/json": ManualStepInputSerializer,
            "multipart/form-data": ManualStepInputSerializer,
        },
        responses={
            200: ManualStepResultSerializer,
            400: OpenApiResponse(description="Bad status or step order, or not a manual run."),
            403: OpenApiResponse(description="Viewers may not record steps."),
            404: OpenApiResponse(description="No such execution in your projects."),
            409: OpenApiResponse(
                description="The execution is not awaiting input, or `attempt` is not its "
                "current attempt (stale_attempt)."
            ),
            413: OpenApiResponse(description="The attachment is too large."),
        },
    )
    def post(self, request, pk: int, order: int):
        execution = selectors.executions_visible_to(request.user).filter(pk=pk).first()
        if execution is None:
            raise NotFound("Execution not found.")
        access.require(request.user, execution.project_id, access.RUN)
        serializer = ManualStepInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        step = execution_record_manual_step(
            execution.pk, order, **serializer.validated_data, actor=request.user
        )
        execution.refresh_from_db()
        body = {
            "step": step,
            "execution_id": execution.pk,
            "execution_status": execution.status,
            "status_reason": execution.status_reason,
        }
        return Response(ManualStepResultSerializer(body).data)
