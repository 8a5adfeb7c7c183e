"""The OpenAPI document is valid OpenAPI 3.1, as a client generator wants it (issue 20)."""

from collections import Counter

from openapi_spec_validator import OpenAPIV31SpecValidator


def test_the_document_is_valid_openapi_3_1(client):
    doc = client.get("/openapi.json").get_json()
    errors = [str(e).splitlines()[0] for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert errors == []


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
