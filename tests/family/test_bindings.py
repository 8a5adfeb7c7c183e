"""Family bindings (R15): ask, consent from the relative's own account, revoke, limits."""

from tests.conftest import bearer, make_id_number


def ask(client, token, relative, permissions=("view", "pay"), relationship="parent", **override):
    body = {
        "relative": {"name": relative["name"], "id_number": relative["id_number_plain"]} | override,
        "relationship": relationship,
        "permissions": list(permissions),
    }
    return client.post("/api/v1/family/bindings", json=body, headers=bearer(token))


def test_binding_is_pending_until_the_relative_consents_R15(client, person):
    elder_token, elder = person("o-f1", name="张建国", birth="19480312")
    child_token, _ = person("o-f2", name="张晓明")
    resp = ask(client, child_token, elder)
    assert resp.status_code == 201
    binding = resp.get_json()["binding"]
    assert binding["status"] == "pending" and "patient_id" not in binding
    # Pending grants nothing.
    assert (
        client.get("/api/v1/postpay/eligibility?patient_id=" + elder["id"], headers=bearer(child_token)).status_code
        == 404
    )
    received = client.get("/api/v1/family/bindings", headers=bearer(elder_token)).get_json()["received"]
    assert received[0]["id"] == binding["id"] and received[0]["requester"]["name"] == "张*明"
    # Each side reads what the other is to them: the son asked for his parent, the father reads a child.
    assert binding["relationship"] == "parent" and received[0]["relationship"] == "child"
    ok = client.post("/api/v1/family/bindings/%s/consent" % binding["id"], json={}, headers=bearer(elder_token))
    assert ok.status_code == 200 and ok.get_json()["binding"]["status"] == "active"
    me = client.get("/api/v1/me", headers=bearer(child_token)).get_json()["user"]
    assert [(p["relationship"], p["permissions"]) for p in me["patients"]] == [
        ("self", ["accompany", "book", "mutual_aid", "pay", "view"]),
        ("parent", ["pay", "view"]),
    ]
    assert me["patients"][1]["id_number"].count("*") == 8
    assert (
        client.get("/api/v1/postpay/eligibility?patient_id=" + elder["id"], headers=bearer(child_token)).status_code
        == 200
    )


def test_only_the_relatives_own_account_can_consent_R15(client, person):
    elder_token, elder = person("o-f3", birth="19480312")
    child_token, _ = person("o-f4")
    stranger_token, _ = person("o-f5")
    binding_id = ask(client, child_token, elder).get_json()["binding"]["id"]
    url = "/api/v1/family/bindings/%s/consent" % binding_id
    assert client.post(url, json={}, headers=bearer(child_token)).status_code == 404
    assert client.post(url, json={}, headers=bearer(stranger_token)).status_code == 404
    assert client.post(url, json={}, headers=bearer(elder_token)).status_code == 200
    twice = client.post(url, json={}, headers=bearer(elder_token))
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "BINDING_STATE"


def test_a_mismatch_does_not_say_which_part_is_wrong_and_is_rate_limited_R15(client, person, login, verify):
    _, elder = person("o-f6", name="张建国", birth="19480312")
    child_token, _ = person("o-f7")
    unverified = {"name": "王五", "id_number_plain": make_id_number(birth="19500101")}
    wrong_name = ask(client, child_token, elder, name="张建军")
    wrong_number = ask(client, child_token, elder, id_number=make_id_number(birth="19480313"))
    nobody = ask(client, child_token, unverified)
    bad_form = ask(client, child_token, elder, id_number="123456789012345")
    bodies = [r.get_json() for r in (wrong_name, wrong_number, nobody, bad_form)]
    assert {r.status_code for r in (wrong_name, wrong_number, nobody, bad_form)} == {422}
    assert all(b == bodies[0] for b in bodies) and bodies[0]["error"]["code"] == "RELATIVE_NOT_FOUND"
    ask(client, child_token, elder, name="张建")
    limited = ask(client, child_token, elder)  # even the right answer waits now
    assert limited.status_code == 429 and limited.get_json()["error"]["code"] == "TOO_MANY_ATTEMPTS"


def test_no_self_binding_no_duplicates_and_verified_askers_only_R15(client, person, login):
    token, me = person("o-f8")
    assert ask(client, token, me).get_json()["error"]["code"] == "CANNOT_BIND_SELF"
    elder_token, elder = person("o-f9", birth="19480312")
    assert ask(client, token, elder).status_code == 201
    dup = ask(client, token, elder)
    assert dup.status_code == 409 and dup.get_json()["error"]["code"] == "ALREADY_BOUND"
    anonymous = ask(client, login("o-f10"), elder)
    assert anonymous.status_code == 403 and anonymous.get_json()["error"]["code"] == "NOT_VERIFIED"


def test_either_side_revokes_at_any_time_R15(client, person, bind):
    elder_token, elder = person("o-f11", birth="19480312")
    child_token, _ = person("o-f12")
    first = bind(child_token, elder_token, elder)
    assert client.delete("/api/v1/family/bindings/" + first, headers=bearer(elder_token)).status_code == 204
    assert (
        client.get("/api/v1/postpay/eligibility?patient_id=" + elder["id"], headers=bearer(child_token)).status_code
        == 404
    )
    again = client.delete("/api/v1/family/bindings/" + first, headers=bearer(child_token))
    assert again.status_code == 409
    second = bind(child_token, elder_token, elder)  # a revoked binding can be asked for anew
    assert client.delete("/api/v1/family/bindings/" + second, headers=bearer(child_token)).status_code == 204
    stranger_token, _ = person("o-f13")
    assert client.delete("/api/v1/family/bindings/" + second, headers=bearer(stranger_token)).status_code == 404


def test_at_most_n_active_relatives_configurable_R15(app, client, person, bind):
    app.config["POSTPAY_MAX_RELATIVES"] = 2
    child_token, _ = person("o-f14")
    relatives = [person("o-f15-%d" % i, birth="1950010%d" % (i + 1)) for i in range(3)]
    bind(child_token, *relatives[0])
    bind(child_token, *relatives[1])
    resp = ask(client, child_token, relatives[2][1])
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "TOO_MANY_RELATIVES"
