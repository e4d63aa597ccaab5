"""django-filter filtersets for the catalog API (`?project=3&type=bdd&tag=smoke`).

They build on core.filters: strict booleans, bounded whole-number ids (another project's id
filters to nothing, the same as an id that does not exist, instead of a 400 that would tell them
apart), date-times the database can hold."""

import json

import django_filters
from django.db import connection
from django.db.models import QuerySet, TextField, Value
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Cast, StrIndex

from catalog.models import CasePriority, CaseStatus, CaseType, TestCase, TestSuite
from core.filters import (
    BooleanFilter,
    DateTimeFilter,
    FilterSet,
    IdFilter,
    IntegerFilter,
    PatternFilter,
)
from executions.models import Execution, ExecutionStatus, Trigger


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


class TestCaseFilter(FilterSet):
    project = IdFilter()
    type = django_filters.ChoiceFilter(choices=CaseType.choices)
    status = django_filters.ChoiceFilter(choices=CaseStatus.choices)
    priority = django_filters.TypedChoiceFilter(choices=CasePriority.choices, coerce=int)
    quarantined = BooleanFilter()
    tag = django_filters.CharFilter(method=filter_tag, label="Has this tag")

    class Meta:
        model = TestCase
        fields = ["project", "type", "status", "priority", "quarantined", "tag"]


class TestSuiteFilter(FilterSet):
    project = IdFilter()
    tag = django_filters.CharFilter(method=filter_tag, label="Has this tag")

    class Meta:
        model = TestSuite
        fields = ["project", "tag"]


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
