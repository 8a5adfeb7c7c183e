"""Insured people the sandbox's insurance platform knows without an e-voucher (R8)."""

from tests.conftest import bearer, make_id_number


def insured(client, name, birth="19480312", **person):
    """Make the platform know ``name`` (``POST /sandbox/medins/persons``); returns
    ``{"name", "id_number"}`` for a 1101 look-up by identity card."""
    person = {
        "name": name,
        "id_number": make_id_number(birth=birth),
        "insured_region": "320602",
        "insurance_type": "resident",
        "insured_status": "normal",
    } | person
    resp = client.post("/sandbox/medins/persons", json=person)
    assert resp.status_code == 201, resp.get_json()
    return {"name": name, "id_number": person["id_number"]}


def ask_binding(client, token, relative, permissions=("view", "pay"), relationship="parent"):
    """The account behind ``token`` asks to bind ``relative`` ({"name", "id_number"})."""
    body = {"relative": relative, "relationship": relationship, "permissions": list(permissions)}
    return client.post("/api/v1/family/bindings", json=body, headers=bearer(token))
