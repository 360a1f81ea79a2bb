"""What every model module shares: strict request bodies, answers, enums by value."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from filegate.server.request import integral

# Strict, as the document types the fields: "5" and false are no integers (5.0 is one).
Integer = Annotated[int, BeforeValidator(integral)]


class RequestBody(BaseModel):
    """A JSON body: strict JSON types, and an unknown field is a 400 naming it."""

    model_config = ConfigDict(extra="forbid", strict=True, use_attribute_docstrings=True)


class Answer(BaseModel):
    """An object the routes answer with: an optional field is left out, never null."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _no_null_for_optional(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                if not field.is_required() and name in data and data[name] is None:
                    raise ValueError(f"'{name}' is null; it should be left out")
        return data


class Form(BaseModel):
    """The fields of a multipart/form-data body. The route streams the form and checks each
    field as it arrives, so a form model only states them for the document."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


def enum(values: Iterable[str], **field: Any) -> Any:
    """A string field the document restricts to ``values`` (the route checks them itself,
    with its own messages)."""
    return Field(json_schema_extra={"enum": list(values)}, **field)
