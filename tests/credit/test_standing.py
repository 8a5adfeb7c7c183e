"""Credit people can see (R18, issue 19): GET /api/v1/credit for the patient and a relative who
may view, open records with their bills, past records with their repair times, in constant queries."""

from tests.conftest import bearer, count_statements
from tests.credit.arrears import arrears_fixture  # noqa: F401  (the arrears fixture)


def credit(client, token, patient_id=None):
    url = "/api/v1/credit" + ("?patient_id=%s" % patient_id if patient_id else "")
    resp = client.get(url, headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["credit"]


def test_the_patient_and_a_viewing_relative_see_the_record_then_its_repair_R18(client, arrears):
    mum_id = arrears["patient"]["id"]
    before = credit(client, arrears["mum"])
    assert (before["status"], before["open_records"], before["past_records"]) == ("normal", [], [])
    arrears["suspend"]("2026-12-21T10:00:00+08:00")  # R1 is 30 days overdue, R2 not yet
    own = credit(client, arrears["mum"])
    assert own["status"] == "suspended" and own["patient"]["name"] == "孙秀英"
    (record,) = own["open_records"]
    assert record["repaired_at"] is None and record["amount_fen"] == 30000
    assert [(b["id"], b["status"], b["amount_fen"]) for b in record["bills"]] == [(arrears["bills"][0], "due", 30000)]
    assert record["bills"][0]["hospital"]["code"] == "NT01" and record["bills"][0]["visit_day"] == "2026-11-20"
    assert "items" not in record["bills"][0]  # no item names at all: R19 has nothing to leak here
    seen = credit(client, arrears["son"], mum_id)
    assert seen["patient"] == {
        "id": mum_id,
        "name": "孙*英",  # masked for relatives
        "id_number": own["patient"]["id_number"],
        "relationship": "parent",
    }
    assert "*" in seen["patient"]["id_number"] and seen["open_records"] == own["open_records"]
    arrears["repair"]()
    after = credit(client, arrears["son"], mum_id)
    assert after["status"] == "normal" and after["open_records"] == []
    (past,) = after["past_records"]
    assert past["id"] == record["id"] and past["repaired_at"] is not None
    assert past["bills"][0]["status"] == "paid" and past["bills"][0]["paid_at"] is not None


def test_a_daughter_who_only_accompanies_gets_403_and_a_stranger_404(client, arrears, person):
    mum_id = arrears["patient"]["id"]
    resp = client.get("/api/v1/credit?patient_id=" + mum_id, headers=bearer(arrears["daughter"]))
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "PERMISSION_DENIED"
    stranger, _ = person("o-cv-stranger")
    resp = client.get("/api/v1/credit?patient_id=" + mum_id, headers=bearer(stranger))
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "NOT_FOUND"
    resp = client.get("/api/v1/credit?patient_id=pt_nothing", headers=bearer(arrears["mum"]))
    assert resp.status_code == 404


def test_the_credit_answer_takes_the_same_queries_for_one_record_or_many(app, client, arrears):
    mum_id = arrears["patient"]["id"]

    def ask():
        credit(client, arrears["son"], mum_id)

    arrears["suspend"]("2026-12-21T10:00:00+08:00")
    one = count_statements(app, ask)
    arrears["suspend"]("2026-12-23T10:00:00+08:00")  # R2 crosses 30 days: a second record
    assert len(credit(client, arrears["son"], mum_id)["open_records"]) == 2
    two = count_statements(app, ask)
    arrears["repair"]()
    repaired = count_statements(app, ask)
    assert len(credit(client, arrears["son"], mum_id)["past_records"]) == 2
    assert one == two == repaired <= 6, (one, two, repaired)
    print("GET /api/v1/credit: %d SQL statements for any number of records and bills" % two)
