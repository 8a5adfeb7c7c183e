"""Console accounts: the CLI, hashed passwords, lockout, CSRF, cookies, roles and hospitals."""

from postpay.console.models import AuditEntry, StaffAccount
from postpay.extensions import db
from tests.console.conftest import Staff, csrf_of


def test_staff_create_stores_a_hash_and_refuses_bad_input(app, runner, hospitals):
    out = runner.invoke(
        args=[
            "staff",
            "create",
            "--username",
            "li.na",
            "--role",
            "window",
            "--hospital",
            "NT01",
            "--password",
            "secret-pass-1",
        ]
    )
    assert out.exit_code == 0, out.output
    with app.app_context():
        account = StaffAccount.query.filter_by(username="li.na").one()
        assert "secret-pass-1" not in account.password_hash and account.password_hash.startswith("scrypt:")
    again = runner.invoke(
        args=["staff", "create", "li.na", "--role", "window", "--hospital", "NT01", "--password", "secret-pass-1"]
    )
    assert again.exit_code != 0 and "已存在" in again.output
    nowhere = runner.invoke(
        args=["staff", "create", "x", "--role", "window", "--hospital", "NOPE", "--password", "x" * 9]
    )
    assert nowhere.exit_code != 0
    short = runner.invoke(
        args=["staff", "create", "y", "--role", "window", "--hospital", "NT01", "--password", "short"]
    )
    assert short.exit_code != 0 and "8" in short.output


def test_every_console_page_redirects_to_login_without_a_session(client, hospitals):
    for path in [
        "/console/",
        "/console/disputes",
        "/console/credit",
        "/console/dashboard",
        "/console/audit",
        "/console/patients/pt_x",
    ]:
        resp = client.get(path)
        assert resp.status_code == 302 and "/console/login" in resp.headers["Location"], path
    lookup = client.post("/console/lookup", data={"q": "13900000000"})
    assert lookup.status_code == 302 and "/console/login" in lookup.headers["Location"]
    assert client.get("/console/login").status_code == 200


def test_login_sets_a_httponly_samesite_cookie_and_secure_when_configured(app, staff):
    member = staff("wang")
    cookie = member.client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    app.config["SESSION_COOKIE_SECURE"] = True
    secure = Staff(app.test_client(), "wang", member.password)
    secure.client.get("/console/login")
    resp = secure.login()
    assert "Secure" in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]


def test_login_locks_after_five_failures_even_with_the_right_password(app, staff, redis):
    member = staff("zhao", login=False)
    for _ in range(5):
        resp = member.login(password="wrong-password")
        assert resp.status_code == 401 and "用户名或密码错误" in resp.text
    locked = member.login()
    assert locked.status_code == 401 and "账号已锁定" in locked.text
    redis.flushdb()  # the lock lapses (its TTL): the right password works again
    assert member.login().status_code == 302


def test_forms_without_the_csrf_token_are_refused(app, staff):
    member = staff("qian")
    resp = member.post("/console/logout", csrf=False)
    assert resp.status_code == 400 and "页面已过期" in resp.text
    assert member.get("/console/").status_code == 200  # still signed in
    forged = member.post("/console/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    bare = app.test_client()
    page = bare.get("/console/login")
    assert bare.post("/console/login", data={"username": "qian", "password": member.password}).status_code == 400
    assert csrf_of(page.text)


def test_window_staff_cannot_open_the_dashboard_or_the_audit_log(staff):
    clerk = staff("sun")
    assert clerk.get("/console/dashboard").status_code == 403
    assert clerk.get("/console/audit").status_code == 403
    boss = staff("zhou", role="supervisor")
    assert boss.get("/console/dashboard").status_code == 200
    assert boss.get("/console/audit").status_code == 200


def test_logout_ends_the_session_and_is_audited(app, staff):
    member = staff("wu", role="supervisor")
    assert member.post("/console/logout").status_code == 302
    assert member.get("/console/").status_code == 302
    with app.app_context():
        assert [e.action for e in AuditEntry.query.order_by(AuditEntry.at)] == ["login", "logout"]


def test_the_audit_log_cannot_be_edited(app, staff):
    import pytest

    staff("zheng")
    with app.app_context():
        entry = AuditEntry.query.first()
        entry.action = "nothing happened"
        with pytest.raises(Exception, match="append-only"):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(db.text("UPDATE audit_log SET action = 'x'"))
        db.session.rollback()
        assert AuditEntry.query.one().action == "login"
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/console/audit")]
    assert all(r.methods <= {"GET", "HEAD", "OPTIONS"} for r in rules)


#: Every console route naming a record: (method, form). Each answers "not found" for an unknown id;
#: bills, disputes and micropay attempts also for another hospital's
#: (test_desk: test_staff_of_another_hospital_see_nothing_of_this_one).
NAMING = {
    "console.patient": ("GET", {}),
    "console.sms_code": ("POST", {"phone": "13700000000", "id_checked": "yes"}),
    "console.sign": ("POST", {"sms_code": "123456"}),
    "console.consent": ("POST", {"id_checked": "yes"}),
    "console.decide": ("POST", {"decision": "confirm"}),
    "console.take_payment": ("POST", {"mode": "cash"}),
    "console.settle_micropay": ("POST", {}),
}


def test_every_console_route_naming_a_record_refuses_an_unknown_one(app, staff):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("console.") and r.arguments]
    assert {r.endpoint for r in rules} == set(NAMING)
    member = staff("table", role="admin")
    for rule in rules:
        method, form = NAMING[rule.endpoint]
        path = rule.build({a: "xx_nonexistent" for a in rule.arguments})[1]
        if method == "GET":
            resp = member.get(path)
            assert resp.status_code == 404 and "未找到" in resp.text, rule.endpoint
        else:
            resp = member.post(path, data=form)
            assert resp.status_code == 302 and "未找到" in member.get(resp.headers["Location"]).text, rule.endpoint
