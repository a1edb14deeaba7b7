"""The OpenAPI document at /openapi.json: well formed, complete for SPEC §3, and true to what the API returns.

Neither `openapi-spec-validator` nor `jsonschema` is a dependency, so the structure is checked by hand and
responses are validated by a small JSON Schema validator for the keywords FastAPI emits. The validator
refuses keywords it does not know, so a schema it cannot judge fails instead of passing silently.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from app.kit.codes import generate_code
from tests.databases import test_settings
from tests.factories import World

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
PROBLEM_JSON = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail"}

# SPEC §3: the JSON routes and the response codes each must document.
SPEC_ROUTES: list[tuple[str, str, set[str]]] = [
    ("get", "/api/v1/areas", {"200"}),
    ("get", "/api/v1/initiatives", {"200", "422"}),
    ("get", "/api/v1/initiatives/{}", {"200", "404", "422"}),
    ("post", "/api/v1/vouchers/check", {"200", "404", "422", "429"}),
    ("post", "/api/v1/pledges", {"201", "403", "404", "409", "422", "429"}),
    ("get", "/api/v1/areas/{}/news", {"200", "404"}),
    ("post", "/api/v1/initiatives/{}/donations", {"201", "404", "422"}),
    ("get", "/healthz", {"200"}),
    ("get", "/readyz", {"200", "503"}),
]


def template(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from app.main import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'unused.db'}"
    with TestClient(create_app(test_settings(url))) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    return body


# --- a small JSON Schema validator (the subset of 2020-12 that OpenAPI 3.1 from FastAPI uses) ---------------

ANNOTATIONS = {"title", "description", "examples", "default", "deprecated", "readOnly", "writeOnly"}
KEYWORDS = ANNOTATIONS | {
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "anyOf",
    "oneOf",
    "allOf",
    "enum",
    "const",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
}


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references: {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolvable $ref {ref}"
        node = node[part]
    return node


def _type_ok(value: Any, kind: str) -> bool:
    return {
        "null": value is None,
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }[kind]


def _format_ok(value: str, fmt: str) -> bool:
    try:
        if fmt == "date":
            date.fromisoformat(value)
        elif fmt == "date-time":
            parsed = datetime.fromisoformat(value)
            return "T" in value and parsed.tzinfo is not None
    except ValueError:
        return False
    return True


def schema_errors(value: Any, schema: Any, document: dict[str, Any], where: str = "$") -> list[str]:
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{where}: no value allowed"]
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise AssertionError(f"{where}: the test validator does not know {sorted(unknown)}")
    if "$ref" in schema:
        errors = schema_errors(value, resolve(document, schema["$ref"]), document, where)
        rest = {k: v for k, v in schema.items() if k != "$ref" and k not in ANNOTATIONS}
        return errors + (schema_errors(value, rest, document, where) if rest else [])
    errors: list[str] = []
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, kind) for kind in kinds):
            return [f"{where}: {value!r} is not of type {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    for keyword, combine in (("anyOf", any), ("oneOf", None), ("allOf", all)):
        if keyword not in schema:
            continue
        results = [not schema_errors(value, sub, document, where) for sub in schema[keyword]]
        passed = sum(results) == 1 if combine is None else combine(results)
        if not passed:
            errors.append(f"{where}: {value!r} does not match {keyword}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > maximum {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{where}: {value} <= exclusiveMinimum {schema['exclusiveMinimum']}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            errors.append(f"{where}: {value} >= exclusiveMaximum {schema['exclusiveMaximum']}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if "format" in schema and not _format_ok(value, schema["format"]):
            errors.append(f"{where}: {value!r} is not a {schema['format']}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for index, item in enumerate(value):
                errors += schema_errors(item, schema["items"], document, f"{where}[{index}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where}: required property {name!r} missing")
        for name, item in value.items():
            if name in properties:
                errors += schema_errors(item, properties[name], document, f"{where}.{name}")
            elif "additionalProperties" in schema:
                errors += schema_errors(item, schema["additionalProperties"], document, f"{where}.{name}")
    return errors


def test_the_validator_catches_mistakes(document: dict[str, Any]) -> None:
    """The hand-made validator is not vacuous: it rejects what the documented schemas forbid."""
    out = {"$ref": "#/components/schemas/InitiativeOut"}
    good = {
        "id": 1,
        "title": "Bankjes",
        "summary": "",
        "category": "",
        "status": "published",
        "area_code": "BU01411000",
        "target_cents": 5000,
        "raised_cents": 0,
        "supporters": 0,
        "deadline": "2027-01-31",
        "published_at": "2026-11-22T10:00:00+00:00",
        "funded_at": None,
    }
    assert schema_errors(good, out, document) == []
    assert schema_errors({**good, "target_cents": "5000"}, out, document)
    assert schema_errors({**good, "raised_cents": 7.5}, out, document)
    assert schema_errors({**good, "id": True}, out, document)
    assert schema_errors({**good, "deadline": "31-01-2027"}, out, document)
    assert schema_errors({**good, "published_at": "2026-11-22"}, out, document)
    assert schema_errors({k: v for k, v in good.items() if k != "status"}, out, document)
    assert schema_errors([good], out, document)
    with pytest.raises(AssertionError, match="does not know"):
        schema_errors(1, {"type": "integer", "multipleOf": 2}, document)


# --- the document itself -------------------------------------------------------------------------------------


def _walk(node: Any, where: str = "#") -> list[tuple[str, Any]]:
    found = [(where, node)]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _walk(value, f"{where}/{index}")
    return found


def _schemas_in(operation: dict[str, Any]) -> list[Any]:
    schemas = [param["schema"] for param in operation.get("parameters", [])]
    body = operation.get("requestBody", {}).get("content", {})
    schemas += [media["schema"] for media in body.values() if "schema" in media]
    for response in operation["responses"].values():
        schemas += [media["schema"] for media in response.get("content", {}).values() if "schema" in media]
    return schemas


def _unknown_keywords(schema: Any, where: str) -> list[str]:
    """Keywords outside the JSON Schema subset this file validates (examples and defaults are data)."""
    found = []
    for node_where, node in _walk(schema, where):
        if not isinstance(node, dict) or re.search(r"/(properties|examples|default)(/\d+)?$", node_where):
            continue
        if re.search(r"/(examples|default|enum|const)/", node_where):
            continue
        found += [f"{node_where}/{key}" for key in set(node) - KEYWORDS]
    return found


def test_document_is_well_formed(document: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.[01]\.\d+", document["openapi"])
    assert document["info"]["title"] == "Buurtkas"
    assert isinstance(document["info"]["version"], str) and document["info"]["version"]
    assert "problem+json" in document["info"]["description"]
    assert document["paths"], "no paths documented"

    operation_ids = []
    for path, item in document["paths"].items():
        assert path.startswith("/"), path
        operations = {method: op for method, op in item.items() if method in METHODS}
        assert operations, f"{path}: no operations"
        assert set(item) <= METHODS | {"parameters", "summary", "description", "servers"}, path
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            operation_ids.append(operation["operationId"])
            assert operation.get("summary"), f"{where}: no summary"
            responses = operation["responses"]
            assert responses, f"{where}: no responses"
            for status, response in responses.items():
                assert re.fullmatch(r"[1-5]\d\d|default", status), f"{where}: response key {status}"
                assert isinstance(response.get("description"), str) and response["description"], where
                for media_type, media in response.get("content", {}).items():
                    assert re.fullmatch(r"[\w.+-]+/[\w.+-]+", media_type), f"{where}: {media_type}"
                    assert "schema" in media, f"{where} {status} {media_type}: no schema"
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), f"{where}: path parameters"
            for parameter in operation.get("parameters", []):
                assert parameter["in"] in {"path", "query", "header", "cookie"}, where
                assert "schema" in parameter, f"{where}: parameter {parameter['name']} has no schema"
                if parameter["in"] == "path":
                    assert parameter["required"] is True, where
            names = [(p["name"], p["in"]) for p in operation.get("parameters", [])]
            assert len(names) == len(set(names)), f"{where}: duplicate parameters"
            for schema in _schemas_in(operation):
                assert not _unknown_keywords(schema, where), where
    assert len(operation_ids) == len(set(operation_ids)), "operationIds are not unique"

    for _where, node in _walk(document):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            resolve(document, node["$ref"])  # raises when it points nowhere
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        unknown = _unknown_keywords(schema, f"#/components/schemas/{name}")
        assert not unknown, f"unexpected schema keywords: {unknown}"


def test_errors_are_documented_as_problem_json(document: dict[str, Any]) -> None:
    """Every error response of the JSON API is application/problem+json with the RFC 9457 members."""
    for path, item in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                if status.startswith(("4", "5")):
                    assert list(content) == [PROBLEM_JSON], (
                        f"{method.upper()} {path} {status}: {list(content)}"
                    )
                    schema = content[PROBLEM_JSON]["schema"]
                    if "$ref" in schema:
                        schema = resolve(document, schema["$ref"])
                    assert set(schema["required"]) >= PROBLEM_FIELDS, f"{method.upper()} {path} {status}"
                    assert schema["properties"]["status"]["type"] == "integer"
                elif status.startswith("2"):
                    assert "application/json" in content, f"{method.upper()} {path} {status}: {list(content)}"
    # FastAPI's own 422 shape (HTTPValidationError) is never what the API sends
    refs = [node["$ref"] for _, node in _walk(document["paths"]) if isinstance(node, dict) and "$ref" in node]
    assert not [ref for ref in refs if ref.endswith(("/HTTPValidationError", "/ValidationError"))]


def app_routes() -> list[tuple[str, set[str], bool]]:
    """(path, methods, is a JSON API route) of every route the app serves, routers included."""
    from fastapi import routing

    from app.main import create_app

    app = create_app(test_settings("sqlite:///unused.db"))
    iterate = getattr(routing, "iter_route_contexts", None)  # FastAPI ≥ 0.16x includes routers lazily
    found = []
    for route in iterate(app.routes) if iterate else app.routes:
        original = getattr(route, "original_route", route)
        if isinstance(original, Route) and route.methods:
            found.append((route.path, set(route.methods), isinstance(original, APIRoute)))
    return found


def _route_exists(method: str, path: str) -> bool:
    return any(template(p) == path and method.upper() in methods for p, methods, _api in app_routes())


@pytest.mark.parametrize(
    ("method", "path", "codes"), SPEC_ROUTES, ids=[f"{m} {p}" for m, p, _ in SPEC_ROUTES]
)
def test_spec_routes_are_documented(
    document: dict[str, Any], method: str, path: str, codes: set[str]
) -> None:
    if not _route_exists(method, path):
        pytest.skip(f"{method.upper()} {path} is not built yet")
    documented = {template(p): item for p, item in document["paths"].items()}
    assert path in documented, f"{method.upper()} {path} exists but is not in /openapi.json"
    operation = documented[path].get(method)
    assert operation is not None, f"{method.upper()} {path} exists but its method is not documented"
    missing = codes - set(operation["responses"])
    assert not missing, f"{method.upper()} {path}: response codes {sorted(missing)} not documented"


def test_every_api_route_is_documented(document: dict[str, Any]) -> None:
    routes = app_routes()
    assert len([path for path, _methods, api in routes if api and path.startswith("/api/v1/")]) >= 5
    documented = {(template(p), m) for p, item in document["paths"].items() for m in item if m in METHODS}
    for path, methods, api in routes:
        if api and path.startswith("/api/"):
            for method in methods:
                assert (template(path), method.lower()) in documented, f"{method} {path} is not documented"


# --- what the API returns matches what the document says ---------------------------------------------------


def _operation_for(document: dict[str, Any], method: str, url: str) -> tuple[str, dict[str, Any]]:
    path = url.split("?")[0]
    for candidate, item in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(candidate)) + "$"
        if re.match(pattern, path) and method in item:
            return candidate, item[method]
    raise AssertionError(f"{method.upper()} {url} is not documented")


def assert_documented(document: dict[str, Any], response: Any) -> None:
    request = response.request
    method, url = request.method.lower(), str(request.url).removeprefix("http://testserver")
    where, operation = _operation_for(document, method, url)
    status = str(response.status_code)
    responses = operation["responses"]
    assert status in responses or "default" in responses, f"{method.upper()} {where}: {status} not documented"
    documented = responses.get(status, responses.get("default"))
    media_type = response.headers["content-type"].split(";")[0]
    content = documented.get("content", {})
    assert media_type in content, (
        f"{method.upper()} {where} {status}: sends {media_type}, documents {list(content)}"
    )
    errors = schema_errors(response.json(), content[media_type]["schema"], document)
    assert not errors, f"{method.upper()} {where} {status}: {errors}"


def test_responses_match_the_document(document: dict[str, Any], client: TestClient, world: World) -> None:
    code = world.codes[0]
    iid = world.initiative_id
    calls = [
        ("GET", "/api/v1/areas", None, 200),
        ("GET", "/api/v1/initiatives", None, 200),
        ("GET", "/api/v1/initiatives?area=WK014110&status=published&limit=5", None, 200),
        ("GET", "/api/v1/initiatives?area=BU99999999", None, 404),
        ("GET", "/api/v1/initiatives?limit=0", None, 422),
        ("GET", f"/api/v1/initiatives/{iid}", None, 200),
        ("GET", "/api/v1/initiatives/987654", None, 404),
        ("GET", "/api/v1/initiatives/0", None, 422),
        ("POST", "/api/v1/vouchers/check", {"code": code}, 200),
        ("POST", "/api/v1/vouchers/check", {"code": generate_code()}, 404),
        ("POST", "/api/v1/vouchers/check", {"code": "ABC"}, 422),
        ("POST", "/api/v1/vouchers/check", {"code": 7}, 422),
        ("POST", "/api/v1/pledges", {"code": code, "initiative_id": iid, "amount_cents": 751}, 409),
        ("POST", "/api/v1/pledges", {"code": code, "initiative_id": iid, "amount_cents": 99}, 422),
        ("POST", "/api/v1/pledges", {"code": code, "initiative_id": iid, "amount_cents": 250}, 201),
        ("POST", "/api/v1/pledges", {"code": code, "initiative_id": 987_654}, 404),
        ("POST", "/api/v1/pledges", {"code": code, "initiative_id": iid}, 201),
        ("POST", "/api/v1/pledges", {"code": code, "initiative_id": iid}, 409),
        ("POST", "/api/v1/pledges", {"code": code}, 422),
        ("GET", "/healthz", None, 200),
        ("GET", "/readyz", None, 200),
    ]
    for method, url, body, status in calls:
        response = client.request(method, url, json=body)
        assert response.status_code == status, (method, url, response.text)
        assert_documented(document, response)
    listed = client.get("/api/v1/initiatives").json()
    assert [item["raised_cents"] for item in listed if item["id"] == iid] == [750]
