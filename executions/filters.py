"""django-filter filtersets for the catalog API (`?project=3&type=bdd&tag=smoke`)."""

import json
import re

import django_filters
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import QuerySet, TextField, Value
from django.db.models.functions import Cast, StrIndex

from executions.models import (
    CasePriority,
    CaseStatus,
    CaseType,
    Execution,
    ExecutionStatus,
    TestCase,
    TestSuite,
    Trigger,
)


def filter_tag(queryset: QuerySet, name: str, value: str) -> QuerySet:
    """Rows whose `tags` list holds `value` exactly."""
    if not value:
        return queryset
    if connection.features.supports_json_field_contains:
        return queryset.filter(tags__contains=[value])  # jsonb @> on PostgreSQL
    # SQLite has no JSON containment: find the element as it is written in the stored JSON text
    # (instr() is case-sensitive like PostgreSQL's @>, where LIKE would not be).
    position = StrIndex(Cast("tags", TextField()), Value(json.dumps(value)))
    return queryset.alias(tag_position=position).filter(tag_position__gt=0)


class TestCaseFilter(django_filters.FilterSet):
    # A number, not a choice among projects: an id the user cannot see filters to nothing, the
    # same as an id that does not exist, instead of a 400 that would tell them apart.
    project = django_filters.NumberFilter()
    type = django_filters.ChoiceFilter(choices=CaseType.choices)
    status = django_filters.ChoiceFilter(choices=CaseStatus.choices)
    priority = django_filters.TypedChoiceFilter(choices=CasePriority.choices, coerce=int)
    quarantined = django_filters.BooleanFilter()
    tag = django_filters.CharFilter(method=filter_tag, label="Has this tag")

    class Meta:
        model = TestCase
        fields = ["project", "type", "status", "priority", "quarantined", "tag"]


class TestSuiteFilter(django_filters.FilterSet):
    project = django_filters.NumberFilter()
    tag = django_filters.CharFilter(method=filter_tag, label="Has this tag")

    class Meta:
        model = TestSuite
        fields = ["project", "tag"]


_LABEL_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,100}")


class ExecutionFilter(django_filters.FilterSet):
    """`?status=failed&project=3&label=env:staging&created_after=2026-01-01`"""

    project = django_filters.NumberFilter()
    test_case = django_filters.NumberFilter()
    test_suite = django_filters.NumberFilter()
    parent = django_filters.NumberFilter()
    status = django_filters.MultipleChoiceFilter(choices=ExecutionStatus.choices)
    trigger = django_filters.ChoiceFilter(choices=Trigger.choices)
    priority = django_filters.NumberFilter()
    environment = django_filters.CharFilter()
    revision = django_filters.CharFilter()
    branch = django_filters.CharFilter()
    label = django_filters.CharFilter(method="filter_label", label="A label as key:value")
    top_level = django_filters.BooleanFilter(
        field_name="parent",
        lookup_expr="isnull",
        label="Only runs that are not part of a suite run",
    )
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Execution
        fields = ["project", "test_case", "test_suite", "parent", "status", "trigger"]

    def filter_label(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        key, sep, wanted = value.partition(":")
        # The key becomes a JSON key lookup: letters, digits, - and . only, so it can never name
        # a Django transform ("__contains") or another field.
        if not sep or not _LABEL_KEY.fullmatch(key) or "__" in key:
            raise ValidationError(
                {"label": "Write a label filter as key:value (key: letters, digits, _ - .)."}
            )
        if connection.features.supports_json_field_contains:
            # jsonb @> on PostgreSQL, served by the GIN index on labels (migration 0006)
            return queryset.filter(labels__contains={key: wanted})
        return queryset.filter(**{f"labels__{key}": wanted})
