"""Results endpoints: steps of a trace, reports, JUnit imports, analytics, case health, CI hooks
and badges. Registered in intellibrowse/urls.py.

Views check access (catalog.access) and shapes, then call one service or selector. Reports and
badges answer in their own media types, chosen with `?as=` (not `?format=`, which DRF keeps for
its renderers).
"""

from results.api.analytics import AnalyticsViewSet, CaseHealthViewSet
from results.api.compare import CompareView
from results.api.hooks import SuiteBadgeView, SuiteHookRunView, SuiteHookView
from results.api.imports import ImportBatchViewSet, JUnitImportView
from results.api.runs import ExecutionReportView, ExecutionStepsStreamView, ExecutionStepsView

__all__ = [
    "AnalyticsViewSet",
    "CaseHealthViewSet",
    "CompareView",
    "ExecutionReportView",
    "ExecutionStepsStreamView",
    "ExecutionStepsView",
    "ImportBatchViewSet",
    "JUnitImportView",
    "SuiteBadgeView",
    "SuiteHookRunView",
    "SuiteHookView",
]
