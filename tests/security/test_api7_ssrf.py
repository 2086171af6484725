"""OWASP API7:2023 Server Side Request Forgery.

No endpoint fetches anything a caller names: no input is a URL, a host or a callback. The
one outbound call the platform makes (the payment provider) goes to a configured base URL,
never to one from a request. This holds for the whole published API, checked on its document.
"""
import re

URLISH_NAME = re.compile(r"(url|uri|href|link|callback|webhook|host|endpoint|domain|image|avatar|fetch)",
                         re.IGNORECASE)
URLISH_FORMATS = {"uri", "url", "iri", "uri-reference", "iri-reference", "hostname", "idn-hostname"}
# Where OAuth needs a redirect URI it is compared with the client's registered ones, never fetched.
REGISTERED_REDIRECTS = {"redirect_uri"}


def _properties(schema, path="", components=None):
    """(dotted name, schema) of every property, however deep (components followed by $ref)."""
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = (components or {})[ref.rsplit("/", 1)[1]]
    for name, sub in (schema.get("properties") or {}).items():
        yield f"{path}{name}", sub
        yield from _properties(sub, f"{path}{name}.", components)
    for key in ("items", "additionalProperties"):
        yield from _properties(schema.get(key), path, components)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or []:
            yield from _properties(sub, path, components)


def _inputs(document):
    components = document.get("components", {}).get("schemas", {})
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            for parameter in op.get("parameters", []):
                yield f"{method.upper()} {path}", parameter["name"], parameter.get("schema", {})
            for media in (op.get("requestBody") or {}).get("content", {}).values():
                for name, schema in _properties(media.get("schema", {}), components=components):
                    yield f"{method.upper()} {path}", name, schema


def test_the_api_takes_inputs_at_all(client):
    # So the check below cannot pass on an empty document.
    assert len(list(_inputs(client.get("/api/v1/openapi.json").json()))) > 30


def test_no_input_of_the_api_is_a_url_or_a_host(client):
    document = client.get("/api/v1/openapi.json").json()
    suspects = [(where, name) for where, name, schema in _inputs(document)
                if name.split(".")[-1] not in REGISTERED_REDIRECTS
                and (URLISH_NAME.search(name.split(".")[-1]) or schema.get("format") in URLISH_FORMATS)]
    assert suspects == [], f"inputs that look like URLs a server might fetch: {suspects}"


def test_form_endpoints_ignore_url_parameters_they_do_not_know(client):
    # The token endpoint takes free-form parameters: a smuggled URL is ignored, not fetched.
    response = client.post("/api/v1/oauth/token", data={"grant_type": "password", "username": "a@b.example",
                                                        "password": "x", "jwks_uri": "http://169.254.169.254/"})
    assert response.status_code in (400, 401), response.text
    assert "169.254" not in response.text
