"""django-filter filtersets for the catalog API (`?project=3&type=bdd&tag=smoke`).

They build on core.filters: strict booleans, bounded whole-number ids (another project's id
filters to nothing, the same as an id that does not exist, instead of a 400 that would tell them
apart), date-times the database can hold."""

import json

import django_filters
from django.db import connection
from django.db.models import QuerySet, TextField, Value
from django.db.models.functions import Cast, StrIndex

from catalog.models import CasePriority, CaseStatus, CaseType, TestCase, TestSuite
from core.filters import (
    BooleanFilter,
    FilterSet,
    IdFilter,
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
