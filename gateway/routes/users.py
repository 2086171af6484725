"""Accounts and profiles: /api/v1/users."""
from __future__ import annotations

from starlette.responses import JSONResponse, Response

from gateway.auth import ADMIN, ANYONE, CUSTOMER
from gateway.ratelimit import AUTH
from gateway.responses import User, UserPage
from gateway.routing import Context, Endpoint
from gateway.schemas import ChangePasswordBody, PageQuery, RegisterBody, RolesBody, UpdateMeBody
from nameko_services.common.errors import UserNotFound


async def register(ctx: Context) -> Response:
    return JSONResponse(await ctx.call("users", "register", payload=await ctx.body()), status_code=201)


async def get_me(ctx: Context) -> Response:
    return JSONResponse(await ctx.call("users", "get_me"))


async def update_me(ctx: Context) -> Response:
    return JSONResponse(await ctx.call("users", "update_me", changes=await ctx.body()))


async def change_password(ctx: Context) -> Response:
    await ctx.call("users", "change_password", **await ctx.body())
    return Response(status_code=204)


async def list_users(ctx: Context) -> Response:
    return JSONResponse(await ctx.call("users", "list_users", **ctx.query()))


async def get_user(ctx: Context) -> Response:
    return JSONResponse(await ctx.call("users", "get_user", user_id=ctx.path_id("user_id", UserNotFound)))


async def set_roles(ctx: Context) -> Response:
    user_id = ctx.path_id("user_id", UserNotFound)
    return JSONResponse(await ctx.call("users", "set_roles", user_id=user_id, **await ctx.body()))


ENDPOINTS = [
    Endpoint("POST", "/api/v1/users", register, "Register a customer account", "users", ANYONE,
             status=201, body=RegisterBody, errors=(409,), rate=AUTH, answer=User),
    Endpoint("GET", "/api/v1/users/me", get_me, "The caller's profile", "users", CUSTOMER, answer=User),
    Endpoint("PATCH", "/api/v1/users/me", update_me, "Change the caller's name or shipping address",
             "users", CUSTOMER, body=UpdateMeBody, answer=User),
    Endpoint("POST", "/api/v1/users/me/password", change_password,
             "Change the caller's password (revokes refresh tokens)", "users", CUSTOMER, status=204,
             body=ChangePasswordBody, rate=AUTH),
    Endpoint("GET", "/api/v1/users", list_users, "A page of accounts", "users", ADMIN, query=PageQuery,
             answer=UserPage),
    Endpoint("GET", "/api/v1/users/{user_id}", get_user, "One account", "users", ADMIN, errors=(404,),
             answer=User),
    Endpoint("PUT", "/api/v1/users/{user_id}/roles", set_roles, "Replace an account's roles", "users",
             ADMIN, body=RolesBody, errors=(404,), answer=User),
]
