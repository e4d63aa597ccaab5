"""The API's query filters (django-filter), strict: a value the schema does not allow is a 400.

django-filter's defaults are lenient in ways a client cannot see: `?top_level=null` and
`?quarantined=maybe` silently filtered nothing, `?project=0.5` passed as a number, a foreign key in
`filterset_fields` became a choice among all rows (a 400 for ids that exist elsewhere, which tells a
stranger they exist), an id past 2**63 crashed SQLite's driver, a date-time whose UTC value falls
outside years 1-9999 crashed the query, and `?created_before=` (no value) was ignored. FilterBackend (settings DEFAULT_FILTER_BACKENDS)
builds `filterset_fields` on FilterSet below; explicit filtersets subclass FilterSet and declare
these filter classes.
"""

from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django_filters.fields import IsoDateTimeField
from django_filters.filterset import FILTER_FOR_DBFIELD_DEFAULTS
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.drainage import set_override
from rest_framework.exceptions import ValidationError as DrfValidationError

from core.ids import ID_MAX

_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


class StrictBooleanField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValidationError("Give true or false.", code="invalid")


class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class PatternFilter(django_filters.CharFilter):
    """Text that must match `pattern` (a regular expression searched for, as JSON Schema's
    `pattern` is); the schema documents it, so clients know the form before they get a 400."""

    def __init__(self, *args, pattern: str, message: str, **kwargs):
        validator = RegexValidator(pattern, message)
        super().__init__(*args, validators=[validator], **kwargs)
        schema = {"type": "string", "pattern": pattern}
        if self.label:
            schema["description"] = str(self.label)
        set_override(self, "field", schema)


class IntegerFilter(django_filters.NumberFilter):
    """A whole number between `min_value` and `max_value` (documented as such in the schema)."""

    field_class = forms.IntegerField

    def __init__(self, *args, min_value: int = -ID_MAX, max_value: int = ID_MAX, **kwargs):
        super().__init__(*args, min_value=min_value, max_value=max_value, **kwargs)
        schema = {"type": "integer", "minimum": min_value, "maximum": max_value}
        if self.label:
            schema["description"] = str(self.label)
        set_override(self, "field", schema)

    def get_max_validator(self):
        return None  # the field's own max_value is the bound


class IdFilter(IntegerFilter):
    """An object id: another project's id filters to nothing, the same as an id that does not
    exist, instead of a 400 that would tell the two apart."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=ID_MAX, **kwargs)


class BoundedIsoDateTimeField(IsoDateTimeField):
    """In UTC: PostgreSQL refuses offsets past 15:59 (ISO 8601 allows up to 23:59), and a value
    near year 1 or 9999 may not exist in UTC at all (SQLite's adapter crashed on it)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError("That date-time is out of range.", code="invalid") from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


_INTEGERS = (
    models.SmallIntegerField,
    models.IntegerField,
    models.BigIntegerField,
    models.PositiveSmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
)


class FilterSet(django_filters.FilterSet):
    FILTER_DEFAULTS = {
        **FILTER_FOR_DBFIELD_DEFAULTS,
        models.AutoField: {"filter_class": IdFilter},
        models.BigAutoField: {"filter_class": IdFilter},
        models.ForeignKey: {"filter_class": IdFilter},
        models.OneToOneField: {"filter_class": IdFilter},
        models.BooleanField: {"filter_class": BooleanFilter},
        models.DateTimeField: {"filter_class": DateTimeFilter},
        **{field: {"filter_class": IntegerFilter} for field in _INTEGERS},
    }

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, declared in self.filters.items():
            # Only text filters take an empty value (an empty string is a string); for the others
            # a parameter without a value is a mistake, not "no filter".
            free_text = isinstance(declared, django_filters.CharFilter) and not isinstance(
                declared, PatternFilter
            )
            if free_text or self.data.get(name) != "":
                continue
            self.form.add_error(name, "Give a value, or leave the parameter out.")
            valid = False
        return valid


class FilterBackend(DjangoFilterBackend):
    filterset_base = FilterSet

    def filter_queryset(self, request, queryset, view):
        # A request that names no filter has nothing to filter by; building and validating the
        # filter form anyway costs ~3 ms per list request, more than the query itself.
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not any(
            name in request.query_params for name in filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)


def int_query_param(
    request, name: str, default: int | None, *, minimum: int | None = 0
) -> int | None:
    """Query parameter `name` as a whole number (at least `minimum`), `default` when it is absent.

    Given but empty (`?limit=`) is a 400 like any other value that is not a number, as for the
    filters above: the schema says integer, and a client that sent the name meant something by it.
    The schema of each parameter declares the same minimum."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DrfValidationError({name: "Give a whole number."}) from None
    if minimum is not None and value < minimum:
        raise DrfValidationError({name: f"Give a number of at least {minimum}."})
    if abs(value) > ID_MAX:
        raise DrfValidationError({name: f"Give a number of at most {ID_MAX}."})
    return value
