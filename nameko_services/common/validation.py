"""Input rules every marshmallow schema shares, in the gateway and in the services alike.

- ``InputSchema``: unknown fields are refused, and so is text PostgreSQL cannot store (NUL, a
  lone surrogate) in any field, named by its path.
- ``Pattern``: a regular expression the whole value must match (no trailing newline).
- ``AddressSchema``: the one postal address rule (a country is an assigned ISO 3166-1 code; its
  region and postal code rules are ``common.address``).
- ``OrderSchema``, ``OrderChangesSchema``, ``OrderItemSchema``, ``order_items``: what placing and
  changing an order take, within ``common.limits`` (the gateway, orders and the catalog alike).
- ``load``: the one way to apply a schema, turning marshmallow's ``ValidationError`` into
  ``InvalidInput`` naming every bad field.

No nameko, eventlet or SQLAlchemy here, so the gateway imports it too.
"""
from __future__ import annotations

import functools
import uuid
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from nameko_services.common import address
from nameko_services.common.countries import COUNTRY_CODES
from nameko_services.common.errors import IdempotencyKeyMissing, InvalidInput
from nameko_services.common.limits import (
    MAX_LINE_QUANTITY,
    MAX_ORDER_LINES,
    MAX_ORDER_NOTE_LENGTH,
    MAX_PAYMENT_TOKEN_LENGTH,
)
from nameko_services.common.text import UNSTORABLE_MESSAGE, escaped, is_storable, matches


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


def field_messages(messages: Any) -> Any:
    """marshmallow's messages as JSON keys them: nested list positions (ints) become strings."""
    if isinstance(messages, dict):
        return {str(key): field_messages(value) for key, value in messages.items()}
    return messages


@functools.cache
def shared_schema(cls: type[Schema]) -> Schema:
    """One instance per Schema class: ``load`` keeps no state in it (no ``context``, no ``partial``)."""
    return cls()


def load(schema: Schema | type[Schema], payload: Any, *, none_is_empty: bool = True) -> Any:
    """Validate ``payload`` with ``schema``; every problem is reported at once as ``InvalidInput``.

    Given a Schema class, its one shared instance loads (``shared_schema``): instantiating copies
    every declared field, 76-136 µs for the saga's schemas, on each event and call otherwise.

    Its details name each bad field, nested ones by path (``{"items": {"0": {"quantity": [...]}}}``);
    a payload that is not an object is ``{"_schema": ["Invalid input type."]}``. None is an empty
    payload (an RPC argument left out) unless ``none_is_empty`` is false: at the gateway an empty
    body is already ``{}``, so a JSON ``null`` there is a body that is not an object.
    The gateway and every service load their input through this one function.
    """
    instance = shared_schema(schema) if isinstance(schema, type) else schema
    try:
        return instance.load({} if payload is None and none_is_empty else payload)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        raise InvalidInput(details=field_messages(messages)) from None


class Pattern(validate.Regexp):
    """``validate.Regexp`` over the whole value (``common.text.matches``).

    Still a ``Regexp``, so the OpenAPI document shows the pattern.
    """

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or not matches(self.regex, value):  # type: ignore[arg-type]
            raise ValidationError(self._format_error(value))
        return value


def not_blank(value: str) -> None:
    """Only spaces is no text at all."""
    if not value.strip():
        raise ValidationError("Must not be blank.")


def text(max_length: int, **kwargs: Any) -> fields.String:
    """A string that is not blank and at most ``max_length`` characters long."""
    return fields.String(validate=[validate.Length(max=max_length), not_blank], **kwargs)


def valid_idempotency_key(value: Any) -> str:
    """The one Idempotency-Key rule, at the gateway and in the orders service (docs/API.md):
    1 to 255 printable ASCII characters, else ``IdempotencyKeyMissing`` (400)."""
    printable = isinstance(value, str) and all("\x21" <= ch <= "\x7e" for ch in value)
    if not (printable and 1 <= len(value) <= 255):
        raise IdempotencyKeyMissing(details={"Idempotency-Key": ["Missing or malformed."]})
    return value


COUNTRY = validate.OneOf(sorted(COUNTRY_CODES),
                         error="Must be an upper-case ISO 3166-1 alpha-2 code such as DE or US.")


class AddressSchema(InputSchema):
    """A postal address, as the users profile, the orders and the gateway accept it.

    The country decides whether ``region`` is required and what a postal code looks like
    (``common.address``); loaded, every field is present (``None`` when not given).
    """

    name = text(100, required=True, metadata={"description": "The recipient"})
    line1 = text(200, required=True)
    line2 = fields.String(allow_none=True, validate=validate.Length(max=200))
    city = text(100, required=True)
    region = fields.String(allow_none=True, validate=validate.Length(max=100), metadata={
        "description": "State, province or territory: required for "
                       f"{', '.join(sorted(address.REGIONS))}, as their postal codes "
                       "(US: CA, NY, ...; CA: ON, QC, ...; AU: NSW, VIC, ...)"})
    postal_code = text(20, required=True, metadata={
        "description": "Checked per country where a simple rule exists (US 12345 or 12345-6789, "
                       "CA A1A 1A1, GB, DE 5 digits, AU 4 digits, ...)"})
    country = fields.String(required=True, validate=COUNTRY)
    phone = fields.String(allow_none=True, validate=validate.Length(max=16),
                          metadata={"description": "E.164, such as +4930123456"})

    @validates_schema
    def check_for_country(self, data: dict[str, Any], **_: Any) -> None:
        problems = address.problems(data)
        if problems:
            raise ValidationError(problems)

    @post_load
    def every_field(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return address.normalized(data)


class UuidString(fields.String):
    """A UUID, passed on as its canonical string (RPC arguments are plain JSON)."""

    default_error_messages = {"invalid_uuid": "Not a valid UUID."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            raise self.make_error("invalid_uuid") from None


class OrderItemSchema(InputSchema):
    """One line of an order: a product id and 1 to ``MAX_LINE_QUANTITY`` units."""

    product_id = UuidString(required=True)
    quantity = fields.Integer(required=True, strict=True,
                              validate=validate.Range(min=1, max=MAX_LINE_QUANTITY))


def order_items(item: type[Schema] = OrderItemSchema, **kwargs: Any) -> fields.List:
    """An order's lines: 1 to ``MAX_ORDER_LINES`` of ``item``."""
    return fields.List(fields.Nested(item), validate=validate.Length(min=1, max=MAX_ORDER_LINES),
                       **kwargs)


class PaymentSchema(InputSchema):
    """How the customer pays: the provider's card token."""

    token = fields.String(required=True,
                          validate=[validate.Length(min=1, max=MAX_PAYMENT_TOKEN_LENGTH), not_blank])


class OrderSchema(InputSchema):
    """What placing an order takes (``POST /api/v1/orders``, ``orders.place_order``)."""

    items = order_items(required=True)
    shipping_address = fields.Nested(AddressSchema, required=True)
    payment = fields.Nested(PaymentSchema, required=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=MAX_ORDER_NOTE_LENGTH))


class OrderChangesSchema(InputSchema):
    """What changing an order takes (``PATCH /api/v1/orders/{id}``, ``orders.modify_order``)."""

    items = order_items()
    shipping_address = fields.Nested(AddressSchema)
