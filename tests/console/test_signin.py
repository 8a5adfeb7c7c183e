"""Console sign-in under attack: attempts counted before the password is checked (per account and
per address), sessions kept on the server (logout, idle and absolute timeouts, a new password or
a deactivated account end them), and the cookie's flags without the sandbox."""

import logging
import threading
import time

import msgspec
import pytest
import requests

from postpay.console.sessions import KEY_PREFIX
from tests.console.conftest import Staff, csrf_of

LOCKED = "账号已锁定"  # the page's error; its footer mentions locking on every view


def _evaluated_failures(caplog):
    return [r for r in caplog.records if r.getMessage().startswith("console login failed for ")]


def test_forty_concurrent_wrong_passwords_check_at_most_five(app, staff, caplog):
    caplog.set_level(logging.WARNING)
    app.config["POSTPAY_STAFF_IP_MAX_FAILURES"] = 1000  # this test is about the account's own limit
    member = staff("ma", login=False)
    url = app.config["LIVE_URL"] + "/console/login"
    browsers = []
    for _ in range(40):  # each attacker's browser holds its own form and CSRF token
        browser = requests.Session()
        browsers.append((browser, csrf_of(browser.get(url, timeout=10).text)))
    start, answers = threading.Barrier(40), []

    def attempt(browser, token):
        start.wait()
        data = {"username": "ma", "password": "wrong-guess", "csrf_token": token}
        answers.append(browser.post(url, data=data, allow_redirects=False, timeout=60))

    threads = [threading.Thread(target=attempt, args=pair) for pair in browsers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert len(answers) == 40 and all(a.status_code == 401 for a in answers)
    assert len(_evaluated_failures(caplog)) <= 5
    assert sum(LOCKED in a.text for a in answers) >= 35
    locked = member.login()  # the right password, while locked
    assert locked.status_code == 401 and LOCKED in locked.text
    assert len(_evaluated_failures(caplog)) <= 5


def test_one_address_cannot_spray_many_accounts(app, staff):
    real = staff("niu", login=False)
    sprayer = app.test_client()
    for n in range(20):  # a different username each time: no account reaches its own limit
        page = sprayer.get("/console/login")
        data = {"username": "guess-%d" % n, "password": "123456789", "csrf_token": csrf_of(page.text)}
        resp = sprayer.post("/console/login", data=data)
        assert resp.status_code == 401 and "用户名或密码错误" in resp.text
    same_address = Staff(app.test_client(), "niu", real.password)
    refused = same_address.login()
    assert refused.status_code == 401 and "登录失败次数过多" in refused.text and LOCKED not in refused.text
    other_client = app.test_client()
    other_client.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    elsewhere = Staff(other_client, "niu", real.password)
    assert elsewhere.login().status_code == 302


def test_a_cookie_replayed_after_logout_gets_the_login_page(app, staff):
    planted = app.test_client()
    planted.get("/console/login")
    planted_id = planted.get_cookie("session").value  # an id an attacker might plant before sign-in
    member = staff("feng")
    cookie = member.client.get_cookie("session").value
    assert cookie != planted_id
    assert member.post("/console/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    resp = replay.get("/console/")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]


def test_an_idle_session_ends_and_a_busy_one_is_renewed(app, staff, redis):
    member = staff("chu")
    key = KEY_PREFIX + member.client.get_cookie("session").value
    idle = app.config["POSTPAY_CONSOLE_IDLE_SECONDS"]
    assert idle == 1800 and 1790 <= redis.ttl(key) <= idle
    redis.expire(key, 30)
    assert member.get("/console/").status_code == 200
    assert redis.ttl(key) > 1790  # each request renews the idle timeout
    redis.pexpire(key, 1)  # then nothing for half an hour
    while redis.exists(key):
        time.sleep(0.01)
    resp = member.get("/console/")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]


def test_a_session_ends_twelve_hours_after_signing_in_however_busy(app, staff, redis):
    member = staff("wei")
    key = KEY_PREFIX + member.client.get_cookie("session").value
    stored = msgspec.msgpack.decode(redis.get(key))
    assert app.config["POSTPAY_CONSOLE_MAX_SECONDS"] == 12 * 3600
    stored["signed_in_at"] -= 12 * 3600 - 60  # signed in 11 h 59 min ago
    redis.set(key, msgspec.msgpack.encode(stored), ex=1800)
    assert member.get("/console/").status_code == 200
    stored["signed_in_at"] -= 120  # 12 h 1 min ago
    redis.set(key, msgspec.msgpack.encode(stored), ex=1800)
    resp = member.get("/console/")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]


def test_a_new_password_ends_every_session_of_the_account(app, staff, runner):
    desk, office = staff("jiang"), staff("jiang-office", role="supervisor")
    second = Staff(app.test_client(), "jiang", desk.password)
    assert second.login().status_code == 302
    out = runner.invoke(args=["staff", "set-password", "jiang", "--password", "new-pass-2026"])
    assert out.exit_code == 0, out.output
    for browser in (desk, second):
        resp = browser.get("/console/")
        assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    assert office.get("/console/").status_code == 200  # other accounts keep theirs
    assert desk.login().status_code == 401
    assert desk.login(password="new-pass-2026").status_code == 302
    short = runner.invoke(args=["staff", "set-password", "jiang", "--password", "short"])
    assert short.exit_code != 0 and "8" in short.output


def test_deactivating_an_account_ends_its_sessions(app, staff, runner):
    member = staff("shen")
    out = runner.invoke(args=["staff", "deactivate", "shen"])
    assert out.exit_code == 0, out.output
    assert member.get("/console/").status_code == 302
    assert member.login().status_code == 401
    assert runner.invoke(args=["staff", "deactivate", "nobody"]).exit_code != 0


def test_the_session_cookie_is_secure_without_the_sandbox(config, production):
    from app import create_app

    app = create_app(dict(production, SQLALCHEMY_DATABASE_URI=config["SQLALCHEMY_DATABASE_URI"]))
    resp = app.test_client().get("/console/login", base_url="https://localhost")
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    sandbox = create_app(dict(config, POSTPAY_SANDBOX=True)).test_client().get("/console/login")
    assert "Secure" not in sandbox.headers["Set-Cookie"]


def _behind_proxy(app, client_ip, claimed=None):
    """A browser whose requests reach the app through one proxy on this host, which appends the
    address it saw to whatever X-Forwarded-For the client itself sent (``claimed``)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    client.environ_base["HTTP_X_FORWARDED_FOR"] = ", ".join(filter(None, [claimed, client_ip]))
    return client


@pytest.mark.parametrize("hops", [0, 1])
def test_behind_a_proxy_each_client_has_its_own_limit_and_cannot_claim_another_address(config, request, hops):
    """POSTPAY_PROXY_HOPS=1: the address the proxy saw counts (two offices behind one nginx do
    not lock each other out), and an X-Forwarded-For the client wrote itself changes nothing.
    0 (no proxy declared): the header is ignored, so a client cannot escape the limit with it."""
    config["POSTPAY_PROXY_HOPS"] = hops
    app = request.getfixturevalue("app")
    real = request.getfixturevalue("staff")("ma", login=False)
    for n in range(20):
        sprayer = _behind_proxy(app, "203.0.113.7", claimed="198.51.100.%d" % n)  # a new claimed address each time
        page = sprayer.get("/console/login")
        data = {"username": "guess-%d" % n, "password": "123456789", "csrf_token": csrf_of(page.text)}
        assert sprayer.post("/console/login", data=data).status_code == 401
    refused = Staff(_behind_proxy(app, "203.0.113.7"), "ma", real.password).login()
    assert refused.status_code == 401 and "登录失败次数过多" in refused.text
    other_office = Staff(_behind_proxy(app, "203.0.113.99"), "ma", real.password).login()
    assert other_office.status_code == (302 if hops else 401)  # without hops every request is the proxy's


def test_metrics_are_not_open_to_what_a_local_proxy_forwards(request):
    app = request.getfixturevalue("app")
    assert app.test_client().get("/metrics").status_code == 200  # the host itself
    assert _behind_proxy(app, "203.0.113.7").get("/metrics").status_code == 404
