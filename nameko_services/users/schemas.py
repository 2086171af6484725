"""Payloads in (marshmallow; unknown fields refused) and users out (plain JSON dicts)."""
from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from nameko_services.common.errors import InvalidInput
from nameko_services.users.domain import MAX_PASSWORD, ROLES, User

MAX_PER_PAGE = 100


def _valid_name(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")
    if len(value) > 100:
        raise ValidationError("Must be at most 100 characters long.")


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class RegisterSchema(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    # The policy itself is checked in the domain; this only bounds the size.
    password = fields.String(required=True, validate=validate.Length(max=MAX_PASSWORD * 4))
    name = fields.String(required=True, validate=_valid_name)


class AddressSchema(StrictSchema):
    line1 = fields.String(required=True, validate=validate.Length(min=1, max=200))
    line2 = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    city = fields.String(required=True, validate=validate.Length(min=1, max=100))
    postal_code = fields.String(required=True, validate=validate.Length(min=1, max=20))
    country = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{2}$", error="Must be an ISO 3166-1 alpha-2 code such as DE or US."))


class UpdateProfileSchema(StrictSchema):
    name = fields.String(validate=_valid_name)
    shipping_address = fields.Nested(AddressSchema, allow_none=True)


class ChangePasswordSchema(StrictSchema):
    current_password = fields.String(required=True, validate=validate.Length(max=MAX_PASSWORD * 4))
    new_password = fields.String(required=True, validate=validate.Length(max=MAX_PASSWORD * 4))


class PageSchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class RolesSchema(StrictSchema):
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True,
                        validate=validate.Length(min=1, max=len(ROLES)))


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """Validate ``data``; raise ``InvalidInput`` whose details name every bad field."""
    if not isinstance(data, dict):
        raise InvalidInput("The payload must be an object.", {"_schema": ["Must be an object."]})
    try:
        return schema.load(data)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        raise InvalidInput(details=messages) from None


def dump_user(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name, "roles": list(user.roles),
            "shipping_address": user.shipping_address,
            "created_at": user.created_at.isoformat() if user.created_at else None}


def dump_page(users: list[User], total: int, page: int, per_page: int) -> dict[str, Any]:
    return {"items": [dump_user(u) for u in users], "total": total, "page": page, "per_page": per_page}
