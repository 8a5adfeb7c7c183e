"""Console fixtures: staff accounts made with the real CLI command, and a signed-in browser-like
client that reads each form's CSRF token from the page, as a browser would."""

import re

import pytest


def csrf_of(html):
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


class Staff:
    """A staff member's browser session: ``get`` pages, ``post`` forms (with the page's CSRF token)."""

    def __init__(self, client, username, password):
        self.client, self.username, self.password = client, username, password
        self.token = None

    def login(self, password=None):
        page = self.client.get("/console/login")
        resp = self.client.post(
            "/console/login",
            data={"username": self.username, "password": password or self.password, "csrf_token": csrf_of(page.text)},
        )
        if resp.status_code == 302:
            self.token = csrf_of(self.client.get("/console/").text)
        return resp

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def post(self, path, data=None, csrf=True):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token)
        return self.client.post(path, data=data)


@pytest.fixture
def staff(app, runner, hospitals):
    """``staff(username, role="window", hospital="NT01") -> Staff``: created through the CLI, signed in."""

    def _staff(username, role="window", hospital="NT01", login=True):
        password = "pw-%s-2026" % username
        out = runner.invoke(
            args=["staff", "create", username, "--role", role, "--hospital", hospital, "--password", password]
        )
        assert out.exit_code == 0, out.output
        member = Staff(app.test_client(), username, password)
        if login:
            assert member.login().status_code == 302
        return member

    return _staff


@pytest.fixture
def due(person, signed, his):
    """A signed patient's due bill of 320.00 yuan at NT01: ``(token, patient, bill_id)``."""
    token, patient = person("o-w-1", name="赵四")
    assert signed(token, patient["id"], "13700000201").status_code == 201
    visit = his.visit("W-1", patient)
    his.items("W-1", ("W-1-1", "exam", "CT平扫", 1, 32000))
    his.event("W-1", "visit_finished")
    return token, patient, visit["bill_id"]


def flash(member, resp):
    """The message a console redirect shows on the next page."""
    assert resp.status_code == 302
    return member.get(resp.headers["Location"]).text
