"""共济 (R13) spends the holder's own personal account: only the holder grants it, with the
binding permission ``mutual_aid``; ``pay`` alone does not allow it; and holder and patient are
insured in the same pooling region (统筹区: the first 4 digits of the insured region)."""

from tests.conftest import bearer


def _refused(resp):
    return resp.status_code == 409 and resp.get_json()["error"]["code"] == "MUTUAL_AID_NOT_ALLOWED"


def test_pay_alone_does_not_spend_a_relatives_account_only_the_holders_grant_does_R13(
    client, family, person, bind, due_bill, quote
):
    """The son pays his mother's bill; his father's employee account may help only once the
    father himself granted ``mutual_aid`` to the son."""
    dad_token, dad = person("o-i-dad", name="周父", birth="19500505")
    bill = due_bill(family["mum_patient"], "G1")
    pay_only = bind(family["son"], dad_token, dad, permissions=["view", "pay"])
    assert _refused(quote(family["son"], [bill], mutual_aid=dad["id"]))
    # The father asking for mutual_aid on the son's account grants the father, never the son.
    bind(dad_token, family["son"], family["son_patient"], permissions=["view", "mutual_aid"], relationship="child")
    assert _refused(quote(family["son"], [bill], mutual_aid=dad["id"]))
    # The son asks for mutual_aid: while pending it grants nothing, and only the father can consent.
    assert client.delete("/api/v1/family/bindings/" + pay_only, headers=bearer(dad_token)).status_code == 204
    body = {
        "relative": {"name": dad["name"], "id_number": dad["id_number_plain"]},
        "relationship": "parent",
        "permissions": ["view", "pay", "mutual_aid"],
    }
    asked = client.post("/api/v1/family/bindings", json=body, headers=bearer(family["son"]))
    assert asked.status_code == 201 and asked.get_json()["binding"]["status"] == "pending"
    binding_id = asked.get_json()["binding"]["id"]
    assert quote(family["son"], [bill], mutual_aid=dad["id"]).status_code == 404
    url = "/api/v1/family/bindings/%s/consent" % binding_id
    assert client.post(url, json={}, headers=bearer(family["son"])).status_code == 404
    received = client.get("/api/v1/family/bindings", headers=bearer(dad_token)).get_json()["received"]
    assert [b["permissions"] for b in received if b["id"] == binding_id] == [["mutual_aid", "pay", "view"]]
    consented = client.post(url, json={}, headers=bearer(dad_token))
    assert consented.status_code == 200 and "mutual_aid" in consented.get_json()["binding"]["permissions"]
    granted = quote(family["son"], [bill], mutual_aid=dad["id"])
    assert granted.status_code == 201, granted.get_json()
    s = granted.get_json()["settlement"]
    assert s["mutual_aid_patient_id"] == dad["id"] and s["acct_mulaid_pay_fen"] == 12000
    assert [p["patient_id"] for p in s["payers"] if p["part"] == "mutual_aid"] == [dad["id"]]


def test_the_payers_own_account_needs_no_grant_and_self_lists_mutual_aid_R13(client, family, due_bill, quote):
    bill = due_bill(family["mum_patient"], "G2")
    own = quote(family["son"], [bill], mutual_aid=family["son_patient"]["id"])
    assert own.status_code == 201 and own.get_json()["settlement"]["acct_mulaid_pay_fen"] == 12000
    me = client.get("/api/v1/me", headers=bearer(family["son"])).get_json()["user"]
    assert me["patients"][0]["permissions"] == ["accompany", "book", "mutual_aid", "pay", "view"]


def test_a_missing_mutual_aid_grant_is_409_with_the_reason_R13(family, person, bind, due_bill, quote):
    dad_token, dad = person("o-i-dad2", name="周父", birth="19500506")
    bind(family["son"], dad_token, dad, permissions=["view", "pay"])
    refused = quote(family["son"], [due_bill(family["mum_patient"], "G3")], mutual_aid=dad["id"])
    assert _refused(refused)
    assert "授权共济" in refused.get_json()["error"]["message"]


def test_mutual_aid_from_another_pooling_region_is_refused_R13(client, family, person, bind, due_bill, quote):
    """A Shanghai-insured daughter's account may not pay a Nantong-insured mother's bill; one
    insured in another county of Nantong (320684: 3206 too) may."""
    bill = due_bill(family["mum_patient"], "G4")  # the mother is insured in 320602 (Nantong)
    for openid, region, ok in (("o-i-sh", "310115", False), ("o-i-hm", "320684", True)):
        token, daughter = person(openid, name="周女", birth="19780808", insured_region=region)
        bind(family["son"], token, daughter, permissions=["view", "mutual_aid"], relationship="other")
        resp = quote(family["son"], [bill], mutual_aid=daughter["id"])
        if ok:
            assert resp.status_code == 201, resp.get_json()
        else:
            assert _refused(resp) and "统筹区" in resp.get_json()["error"]["message"]
