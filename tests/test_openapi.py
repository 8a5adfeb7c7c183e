"""The OpenAPI document is valid OpenAPI 3.1, as a client generator wants it (issue 20)."""

import json
from collections import Counter

from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator


def test_the_document_is_valid_openapi_3_1(client):
    doc = _shared(client.get("/openapi.json").get_json(), {})
    errors = [str(e).splitlines()[0] for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert errors == []


def _shared(node, seen):
    """``node`` with equal parts made one object. The validator checks each schema object once
    (by identity), and the document repeats the same schemas (the error body on every route):
    checking each copy again took most of a minute and finds nothing new, an equal schema having
    the same errors. A schema with ``allOf`` stays a copy of its own: whether its ``required``
    names properties only its parts define is checked where it is an answer's own schema, not
    where it is nested, so that check depends on where the copy is."""
    if isinstance(node, dict):
        node = {key: _shared(value, seen) for key, value in node.items()}
        if "allOf" in node:
            return node
    elif isinstance(node, list):
        node = [_shared(value, seen) for value in node]
    else:
        return node
    return seen.setdefault(json.dumps(node, sort_keys=True), node)


def test_operation_ids_are_unique(client):
    doc = client.get("/openapi.json").get_json()
    ids = Counter(op["operationId"] for item in doc["paths"].values() for op in item.values())
    assert [i for i, n in ids.items() if n > 1] == []
    assert {"console.login_get", "console.login_post"} <= set(ids)


def test_headers_and_moments_are_declared(client):
    doc = client.get("/openapi.json").get_json()
    pay = doc["paths"]["/api/v1/payments"]["post"]
    key = [p for p in pay["parameters"] if p["in"] == "header" and p["name"] == "Idempotency-Key"]
    assert key and key[0]["required"] is True and key[0]["schema"]["minLength"] == 8
    stream = doc["paths"]["/api/v1/visits/{visit_id}/events"]["get"]
    assert [p["name"] for p in stream["parameters"] if p["in"] == "header"] == ["Last-Event-ID"]
    history = doc["paths"]["/api/v1/payments"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    refund = history["properties"]["payments"]["items"]["properties"]["refunds"]["items"]
    assert refund["properties"]["succeeded_at"]["format"] == "date-time"
    assert refund["properties"]["reason"].get("format") is None  # only moments


def _untyped(node, where=""):
    """Objects that say neither their properties nor, on purpose, additionalProperties."""
    found = []
    if isinstance(node, dict):
        if node.get("type") in ("object", ["object", "null"]) and not {"properties", "additionalProperties"} & set(
            node
        ):
            found.append(where)
        for key, value in node.items():
            found += _untyped(value, "%s/%s" % (where, key))
    elif isinstance(node, list):
        for n, value in enumerate(node):
            found += _untyped(value, "%s/%d" % (where, n))
    return found


def test_every_object_has_its_properties_or_says_it_is_open(client):
    doc = client.get("/openapi.json").get_json()
    assert _untyped(doc["paths"]) == []


#: The main mini-program calls: (path, method, the statuses and "request" that carry an example).
MAIN_CALLS = [
    ("/api/v1/auth/wechat-login", "post", {"request", "200"}),
    ("/api/v1/bills/outstanding", "get", {"200"}),
    ("/api/v1/bills/{bill_id}", "get", {"200"}),
    ("/api/v1/payments", "post", {"request", "201"}),
    ("/api/v1/payments", "get", {"200"}),
    ("/api/v1/payments/{payment_id}", "get", {"200"}),
    ("/api/v1/family/bindings", "post", {"request", "201"}),
    ("/api/v1/visits/{visit_id}", "get", {"200"}),
]


def _media(op):
    """(where, JSON media type) of an operation's request body and answers."""
    if "requestBody" in op:
        yield "request", op["requestBody"]["content"]["application/json"]
    for status, answer in op["responses"].items():
        if "application/json" in answer.get("content", {}):
            yield status, answer["content"]["application/json"]


def test_the_main_calls_have_examples_and_every_example_fits_its_schema(client):
    doc = client.get("/openapi.json").get_json()
    for path, method, wanted in MAIN_CALLS:
        op = doc["paths"][path][method]
        assert {where for where, media in _media(op) if "example" in media} == wanted, (path, method)
    checked = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for where, media in _media(op):
                if "example" in media:
                    validator = Draft202012Validator(
                        media["schema"], format_checker=Draft202012Validator.FORMAT_CHECKER
                    )
                    errors = [e.message for e in validator.iter_errors(media["example"])]
                    assert errors == [], (path, method, where, errors)
                    checked += 1
    assert checked == 11


def _schemas(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas(value)


def test_a_nullable_enum_is_any_of_an_enum_and_null_as_generators_read_it(client):
    doc = client.get("/openapi.json").get_json()
    split = [s for s in _schemas(doc["paths"]) if isinstance(s.get("type"), list) and None in s.get("enum", ())]
    assert split == []
    me = doc["paths"]["/api/v1/me"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    verified_by = me["properties"]["user"]["properties"]["patients"]["items"]["properties"]["verified_by"]
    assert verified_by == {
        "anyOf": [{"type": "string", "enum": ["e_voucher", "window", "kiosk_id_card", "relative"]}, {"type": "null"}]
    }


def _codes(doc, path, method, status):
    entry = doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    assert entry["allOf"][0] == {"$ref": "#/components/schemas/Error"}
    return entry["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]


def test_error_statuses_list_their_codes(client):
    doc = client.get("/openapi.json").get_json()
    assert "BILL_NOT_PAYABLE" in _codes(doc, "/api/v1/payments", "post", 409)
    assert {"VALIDATION_ERROR", "INVALID_CHARACTERS"} <= set(_codes(doc, "/api/v1/payments", "post", 422))
    assert "TOO_MANY_STREAMS" in _codes(doc, "/api/v1/visits/{visit_id}/events", "get", 429)
    assert _codes(doc, "/api/v1/payments", "get", 401) == ["UNAUTHORIZED"]
    assert "409" not in doc["paths"]["/api/v1/payments"]["get"]["responses"]  # only what a route can answer
