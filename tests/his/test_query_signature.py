"""The HIS signature covers the query string (API.md): ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\n
SHA256_HEX(BODY)`` with the raw query as sent, so a query cannot be added or changed after signing."""

import pytest

from postpay.his.simulate import Transport

CURSOR = "2026-01-01T00:00:00.000000Z,item-1"
PATH = "/his/v1/voids?cursor=%s&limit=5" % CURSOR


def test_a_get_signed_with_its_query_is_answered(client, his):
    resp = client.get(PATH, headers=his.signed.headers("GET", PATH, b""))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["voids"] == []


@pytest.mark.parametrize(
    "signed_over, sent",
    [
        ("/his/v1/voids", PATH),  # the path alone: the query is not covered
        (PATH, PATH.replace("limit=5", "limit=500")),  # altered after signing
        (PATH, PATH + "&limit=1"),  # a parameter added after signing
        (PATH, "/his/v1/voids?limit=5&cursor=" + CURSOR),  # reordered: the raw query as sent is signed
        (PATH, "/his/v1/voids"),  # dropped after signing
    ],
)
def test_a_query_not_signed_exactly_as_sent_gets_401(client, his, signed_over, sent):
    honest = client.get(signed_over, headers=his.signed.headers("GET", signed_over, b""))
    assert honest.status_code == 200, honest.get_json()
    resp = client.get(sent, headers=his.signed.headers("GET", signed_over, b""))
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "BAD_SIGNATURE"


def test_a_query_added_to_a_signed_post_gets_401(client, his):
    headers = his.signed.headers("POST", "/his/v1/visits", b"{}")
    resp = client.post("/his/v1/visits?x=1", data=b"{}", headers=headers, content_type="application/json")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "BAD_SIGNATURE"


def test_the_simulator_signs_its_queries(app, hospitals):
    transport = Transport("NT01", "his-secret-nt01", client=app.test_client())
    status, answer = transport.get("/his/v1/voids", cursor=CURSOR, limit=5)
    assert status == 200 and answer["voids"] == [], answer
