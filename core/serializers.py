"""Strict serializer fields for request bodies: a JSON value of another type than the schema says
is a 400, never a guess.

DRF coerces: "5" passes for an integer, 5 for a string, "yes" for a boolean, "1" for an integer
choice, "7" for an id. A client generated from the OpenAPI schema never sends those, so a request
that does is a bug on its side, better reported than silently reinterpreted (schemathesis' negative
tests found each of them). Serializers of request bodies use ModelSerializer from here (its default
fields are these) and these fields where they declare one.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.ids import ID_MAX, ID_SCHEMA


class CharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class SlugField(serializers.SlugField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class IntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class BooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class ChoiceField(serializers.ChoiceField):
    """A choice of the same JSON type as the choices: "1" is not the integer choice 1."""

    def to_internal_value(self, data):
        if data == "" and self.allow_blank:
            return ""
        if isinstance(data, bool) or not any(
            type(data) is type(choice) and data == choice for choice in self.choices
        ):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


@extend_schema_field(ID_SCHEMA)
class PrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An object by its id: a whole number (ids no row can have are a 400, unknown ones 404,
    see core.api_errors)."""

    default_error_messages = {"out_of_range": f"Give an id from 1 to {ID_MAX}."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 1 <= data <= ID_MAX:
            self.fail("out_of_range")
        return super().to_internal_value(data)


_STRICT = {
    serializers.CharField: CharField,
    serializers.SlugField: SlugField,
    serializers.IntegerField: IntegerField,
    serializers.BooleanField: BooleanField,
}


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        model_field: _STRICT.get(field, field)
        for model_field, field in serializers.ModelSerializer.serializer_field_mapping.items()
    }
    serializer_related_field = PrimaryKeyRelatedField
    serializer_choice_field = ChoiceField
