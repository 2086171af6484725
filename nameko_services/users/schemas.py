"""Payloads in (marshmallow; unknown fields refused) and users out (plain JSON dicts)."""
from __future__ import annotations

from typing import Any

from marshmallow import fields, pre_load, validate

from nameko_services.common.limits import MAX_PER_PAGE
from nameko_services.common.times import iso_utc
from nameko_services.common.validation import AddressSchema, InputSchema, text
from nameko_services.users.domain import ROLES, User

# Only bounds the size of what we read; the password policy (domain) says what is acceptable.
MAX_PASSWORD_INPUT = 1024


class RegisterSchema(InputSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(max=MAX_PASSWORD_INPUT))
    name = text(100, required=True)

    @pre_load
    def trim_email(self, data: Any, **kwargs: Any) -> Any:
        # Pasted addresses often carry spaces; they are not part of the address.
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            return {**data, "email": data["email"].strip()}
        return data


class UpdateProfileSchema(InputSchema):
    name = text(100)
    shipping_address = fields.Nested(AddressSchema, allow_none=True)


class ChangePasswordSchema(InputSchema):
    current_password = fields.String(required=True, validate=validate.Length(max=MAX_PASSWORD_INPUT))
    new_password = fields.String(required=True, validate=validate.Length(max=MAX_PASSWORD_INPUT))


class PageSchema(InputSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class RolesSchema(InputSchema):
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True,
                        validate=validate.Length(min=1, max=10))


def dump_user(user: User) -> dict[str, Any]:
    """The user as the RPC contract shows it (never the password hash)."""
    return {"id": user.id, "email": user.email, "name": user.name, "roles": list(user.roles),
            "shipping_address": user.shipping_address,
            "created_at": iso_utc(user.created_at) if user.created_at else None}

