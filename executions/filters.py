"""django-filter filterset of the executions API (`?status=failed&project=3&label=env:staging`),
built on core.filters like the catalog's (catalog.filters)."""

import django_filters
from django.db import connection
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform

from core.filters import (
    BooleanFilter,
    DateTimeFilter,
    FilterSet,
    IdFilter,
    IntegerFilter,
    PatternFilter,
)
from executions.models import Execution, ExecutionStatus, Trigger

# key:value, the key of letters, digits and _ . - (what LabelsField keys are in practice).
LABEL_FILTER_PATTERN = r"^[A-Za-z0-9_.\-]{1,100}:"


class ExecutionFilter(FilterSet):
    """`?status=failed&project=3&label=env:staging&created_after=2026-01-01`"""

    project = IdFilter()
    test_case = IdFilter()
    test_suite = IdFilter()
    parent = IdFilter()
    status = django_filters.MultipleChoiceFilter(choices=ExecutionStatus.choices)
    trigger = django_filters.ChoiceFilter(choices=Trigger.choices)
    priority = IntegerFilter(min_value=0, max_value=100)
    environment = django_filters.CharFilter()
    revision = django_filters.CharFilter()
    branch = django_filters.CharFilter()
    label = PatternFilter(
        method="filter_label",
        label="A label as key:value",
        pattern=LABEL_FILTER_PATTERN,
        message="Write a label filter as key:value (key: letters, digits, _ - .).",
    )
    top_level = BooleanFilter(
        field_name="parent",
        lookup_expr="isnull",
        label="Only runs that are not part of a suite run",
    )
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Execution
        fields = ["project", "test_case", "test_suite", "parent", "status", "trigger"]

    def filter_label(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        key, _, wanted = value.partition(":")  # the pattern has checked the form
        if connection.features.supports_json_field_contains:
            # jsonb @> on PostgreSQL, served by the GIN index on labels (migration 0006)
            return queryset.filter(labels__contains={key: wanted})
        # KeyTransform takes the key as data: "env__contains" is a key, never a lookup.
        return queryset.alias(label_value=KeyTransform(key, "labels")).filter(label_value=wanted)
