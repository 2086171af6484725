"""The postal address rules that depend on the country: regions and postal codes.

A parcel carrier needs the region (state, province, territory) where the country's addresses
have one, and refuses a postal code of the wrong shape; both rules are checked where a simple
rule exists and left to the carrier elsewhere. ``problems(address)`` names each broken field
(marshmallow-shaped messages), ``normalized(address)`` gives an address (an old one too, stored
before ``name``, ``region`` and ``phone`` existed) every key, so documents have one shape.
Pure: stdlib only, used by ``common.validation.AddressSchema`` and the orders aggregate.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country", "phone")

# The codes each country's carriers and forms use (USPS, Canada Post, Australia Post).
REGIONS: dict[str, frozenset[str]] = {
    "US": frozenset((
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
        "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
        "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
        "VT", "VA", "WA", "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI", "UM", "AA", "AE", "AP",
    )),
    "CA": frozenset(("AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT")),
    "AU": frozenset(("ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA")),
}

# Whole-value shapes, compared upper-cased with surrounding spaces removed.
POSTAL_CODES: dict[str, tuple[str, str]] = {
    "US": (r"\d{5}(?:-?\d{4})?", "5 or 9 digits: 12345 or 12345-6789"),
    "CA": (r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d", "A1A 1A1"),
    "GB": (r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}", "a UK postcode such as SW1A 1AA"),
    "DE": (r"\d{5}", "5 digits"),
    "FR": (r"\d{5}", "5 digits"),
    "IT": (r"\d{5}", "5 digits"),
    "ES": (r"\d{5}", "5 digits"),
    "AU": (r"\d{4}", "4 digits"),
    "AT": (r"\d{4}", "4 digits"),
    "BE": (r"\d{4}", "4 digits"),
    "CH": (r"\d{4}", "4 digits"),
    "DK": (r"\d{4}", "4 digits"),
    "NO": (r"\d{4}", "4 digits"),
    "NL": (r"\d{4} ?[A-Z]{2}", "1234 AB"),
    "SE": (r"\d{3} ?\d{2}", "123 45"),
    "PL": (r"\d{2}-\d{3}", "12-345"),
    "JP": (r"\d{3}-?\d{4}", "123-4567"),
    "IN": (r"\d{6}", "6 digits"),
    "BR": (r"\d{5}-?\d{3}", "12345-678"),
}

PHONE = re.compile(r"\+[1-9]\d{1,14}")  # E.164: a plus, the country code, at most 15 digits
PHONE_MESSAGE = "Must be an E.164 number such as +4930123456 (a plus, then digits only)."


def region_required(country: str) -> bool:
    """Whether an address in ``country`` needs a region to be delivered."""
    return country in REGIONS


def region_problem(country: str, region: str | None) -> str | None:
    """Why ``region`` does not do for ``country``, or None."""
    codes = REGIONS.get(country)
    if codes is None:
        return None
    if not region:
        return f"Required for {country} addresses."
    if region not in codes:
        return f"Must be one of {', '.join(sorted(codes))} for {country}."
    return None


def postal_code_problem(country: str, postal_code: str) -> str | None:
    """Why ``postal_code`` is not one of ``country``'s, or None (also when there is no rule)."""
    rule = POSTAL_CODES.get(country)
    if rule is None:
        return None
    pattern, shape = rule
    if re.fullmatch(pattern, postal_code.strip().upper()):
        return None
    return f"Not a {country} postal code ({shape})."


def phone_problem(phone: str | None) -> str | None:
    """Why ``phone`` is not E.164, or None (no phone is fine)."""
    return None if phone is None or PHONE.fullmatch(phone) else PHONE_MESSAGE


def problems(address: Mapping[str, Any]) -> dict[str, list[str]]:
    """The country-dependent problems of an address whose fields are each well-formed."""
    country = address.get("country", "")
    found = {"region": region_problem(country, address.get("region")),
             "postal_code": postal_code_problem(country, address.get("postal_code", "")),
             "phone": phone_problem(address.get("phone"))}
    return {name: [message] for name, message in found.items() if message is not None}


def normalized(address: Mapping[str, Any]) -> dict[str, Any]:
    """Every field present (None when absent), postal codes of countries with a rule upper-cased."""
    out = {name: address.get(name) for name in FIELDS}
    if out["country"] in POSTAL_CODES and isinstance(out["postal_code"], str):
        out["postal_code"] = out["postal_code"].strip().upper()
    return out
