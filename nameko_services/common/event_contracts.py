"""Event contracts: a JSON Schema per event type and major version, ``schema_version`` in every event.

Each producing service keeps ``<service>/event_schemas/<event_type>.v<major>.json``: the payloads
of every ``<major>.x`` version, and in ``x-schema-version`` the version this code writes. The rules
(docs/ARCHITECTURE.md, "Event contracts"):

- ``add_to_outbox`` stamps ``schema_version`` into the payload when the row is written, so a row
  keeps the version of the code that wrote it however late it is relayed.
- A minor version only adds optional fields. A consumer reads every minor version of the majors it
  has a schema for; fields of a minor newer than its schema are dropped before its handler sees the
  payload (the handlers' input schemas refuse unknown fields, and an added field must never send
  an event to the dead-letter queue).
- A payload without ``schema_version`` is ``1.0``: outbox rows and streams written before versions.
- A major this code has no schema for, or a version that is no version, is ``UnsupportedVersion``:
  ``common.events`` dead-letters the event with the reason, unhandled.

``schema_version`` itself is plumbing: handlers get the payload without it. Nothing here validates
at run time (the schemas are checked by the tests on what the producers emit), so it costs a dict
copy per event.
"""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "schema_version"
LEGACY_VERSION = "1.0"
SERVICES_ROOT = Path(__file__).resolve().parents[1]  # nameko_services/
SCHEMA_FILE = re.compile(r"(?P<event>[a-z][a-z0-9_]*)\.v(?P<major>[1-9][0-9]*)\.json")
VERSION = re.compile(r"(?P<major>[1-9][0-9]*)\.(?P<minor>0|[1-9][0-9]*)")


class UnsupportedVersion(ValueError):
    """An event whose ``schema_version`` this code cannot read."""


@dataclass(frozen=True)
class Contract:
    """One event type's schema for one major version."""

    service: str
    event_type: str
    major: int
    minor: int  # the newest minor this code knows (and writes, for the newest major)
    schema: Mapping[str, Any]
    path: Path

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"


def load_contracts(root: Path = SERVICES_ROOT) -> dict[str, dict[int, Contract]]:
    """Every contract under ``root/<service>/event_schemas/``, by event type and major."""
    found: dict[str, dict[int, Contract]] = {}
    for path in sorted(root.glob("*/event_schemas/*.json")):
        named = SCHEMA_FILE.fullmatch(path.name)
        schema = json.loads(path.read_text())
        version = VERSION.fullmatch(str(schema.get("x-schema-version", "")))
        if named is None or version is None or int(version["major"]) != int(named["major"]):
            raise ValueError(f"{path}: not <event>.v<major>.json with x-schema-version <major>.<minor>")
        contract = Contract(path.parent.parent.name, named["event"], int(named["major"]),
                            int(version["minor"]), schema, path)
        found.setdefault(contract.event_type, {})[contract.major] = contract
    return found


@functools.cache
def contracts() -> dict[str, dict[int, Contract]]:
    """This code's contracts, read once per process."""
    return load_contracts()


def parse_version(payload: Mapping[str, Any]) -> tuple[int, int]:
    """(major, minor) of a payload; one without ``schema_version`` is 1.0."""
    value = payload.get(SCHEMA_VERSION, LEGACY_VERSION)
    matched = VERSION.fullmatch(value) if isinstance(value, str) else None
    if matched is None:
        raise UnsupportedVersion(f"schema_version {value!r} is not <major>.<minor>")
    return int(matched["major"]), int(matched["minor"])


def current_version(event_type: str) -> str:
    """The version this code writes: its newest contract's (1.0 for a type with none yet)."""
    known = contracts().get(event_type)
    return known[max(known)].version if known else LEGACY_VERSION


def stamp(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with this code's ``schema_version`` (one it already names is kept)."""
    return {SCHEMA_VERSION: current_version(event_type), **payload}


def read(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """What a handler of this code gets: the payload without ``schema_version``, and without the
    fields of a minor version newer than this code's schema; ``UnsupportedVersion`` for a major
    this code has no schema for."""
    major, minor = parse_version(payload)
    body = {key: value for key, value in payload.items() if key != SCHEMA_VERSION}
    known = contracts().get(event_type)
    if not known:
        return body  # no contract to read it by (yet): as it came
    contract = known.get(major)
    if contract is None:
        raise UnsupportedVersion(f"{event_type} schema_version {major}.{minor}: this code reads "
                                 + ", ".join(f"{m}.x" for m in sorted(known)))
    return known_fields(contract.schema, body) if minor > contract.minor else body


def known_fields(schema: Mapping[str, Any], value: Any) -> Any:
    """``value`` with only the object properties ``schema`` declares, at every depth it declares
    them (an object schema without ``properties`` keeps all of its value's)."""
    if isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        return {key: known_fields(properties[key], item) for key, item in value.items()
                if key in properties}
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [known_fields(schema["items"], item) for item in value]
    return value
