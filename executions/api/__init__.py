"""The executions app's API viewsets, registered on the one router in intellibrowse/urls.py."""

from executions.api.reported import ReportedRunViewSet
from executions.api.runs import ExecutionViewSet, QueueViewSet
from executions.api.schedules import RunScheduleViewSet

__all__ = ["ExecutionViewSet", "QueueViewSet", "ReportedRunViewSet", "RunScheduleViewSet"]
