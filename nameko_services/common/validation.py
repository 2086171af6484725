"""Input rules every marshmallow schema shares, in the gateway and in the services alike.

- ``InputSchema``: unknown fields are refused, and so is text PostgreSQL cannot store (NUL, a
  lone surrogate) in any field, named by its path.

No nameko, eventlet or SQLAlchemy here, so the gateway imports it too. Problems are marshmallow
``ValidationError``s; each ``load`` turns them into ``InvalidInput`` naming the fields.
"""
from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from nameko_services.common.text import UNSTORABLE_MESSAGE, escaped, is_storable


def unstorable_fields(data: dict[Any, Any]) -> dict[Any, Any]:
    """marshmallow-shaped messages for each field (or field name) holding unstorable text.

    Only this level and lists of strings: a nested object is an ``InputSchema`` of its own,
    which checks its level when it loads, so errors keep their full path.
    """
    found: dict[Any, Any] = {}
    for name, value in data.items():
        if isinstance(name, str) and not is_storable(name):
            found[escaped(name)] = [UNSTORABLE_MESSAGE]
        elif isinstance(value, str) and not is_storable(value):
            found[name] = [UNSTORABLE_MESSAGE]
        elif isinstance(value, list):
            items = {index: [UNSTORABLE_MESSAGE] for index, item in enumerate(value)
                     if isinstance(item, str) and not is_storable(item)}
            if items:
                found[name] = items
    return found


class InputSchema(Schema):
    """Base of every schema that loads outside input."""

    class Meta:
        unknown = RAISE

    @pre_load
    def refuse_unstorable_text(self, data: Any, **kwargs: Any) -> Any:
        """Unchecked, such text fails the SQL statement: a 5xx and a log line with the values."""
        problems = unstorable_fields(data) if isinstance(data, dict) else {}
        if problems:
            raise ValidationError(problems)
        return data


def not_blank(value: str) -> None:
    """Only spaces is no text at all."""
    if not value.strip():
        raise ValidationError("Must not be blank.")


def text(max_length: int, **kwargs: Any) -> fields.String:
    """A string that is not blank and at most ``max_length`` characters long."""
    return fields.String(validate=[validate.Length(max=max_length), not_blank], **kwargs)
