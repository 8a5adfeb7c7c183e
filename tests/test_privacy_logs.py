"""Nothing personal in logs: after a whole flow, no identity number or phone appears in full
in the app's log (what its handler writes, and every record), nor in gunicorn's access log."""

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import requests

from postpay.lifecycle import RequestContextFilter
from postpay.security import mask_text
from tests.conftest import bearer, make_id_number
from tests.console.conftest import Staff
from tests.servers import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OWN_PHONE, RELATIVE_PHONE, QUERY_PHONE = "13877770001", "13977770002", "13612345678"


def _our_handler():
    root = logging.getLogger()
    return next(h for h in root.handlers if any(isinstance(f, RequestContextFilter) for f in h.filters))


def test_a_whole_flow_leaves_no_identity_number_or_phone_in_the_app_log(
    app, client, runner, caplog, person, phone, signed, bind, his
):
    own_id, relative_id = make_id_number(birth="19800808"), make_id_number(birth="19500505")
    secrets = [own_id, relative_id, OWN_PHONE, RELATIVE_PHONE, QUERY_PHONE]

    @app.get("/boom")
    def boom():  # an error whose text carries a number, as a library's error may
        raise RuntimeError("no such person %s, phone %s" % (relative_id, RELATIVE_PHONE))

    written = io.StringIO()
    handler = _our_handler()
    previous = handler.setStream(written)
    try:
        with caplog.at_level(logging.DEBUG):
            token, patient = person("o-log-own", id_number=own_id)
            phone(token, OWN_PHONE)
            assert signed(token, patient["id"], OWN_PHONE).status_code == 201
            relative_token, relative = person("o-log-rel", name="周母", id_number=relative_id)
            phone(relative_token, RELATIVE_PHONE)
            bind(token, relative_token, relative, permissions=["view", "pay"])
            visit = his.visit("LOG-1", patient)
            his.items("LOG-1", ("LOG-1-1", "lab", "血常规", 1, 2000))
            his.event("LOG-1", "visit_finished")
            assert runner.invoke(args=["staff", "create", "log.clerk", "--role", "window", "--hospital", "NT01",
                                       "--password", "pw-log-clerk-2026"]).exit_code == 0  # fmt: skip
            clerk = Staff(app.test_client(), "log.clerk", "pw-log-clerk-2026")
            assert clerk.login().status_code == 302
            for number in (own_id, OWN_PHONE):
                assert clerk.post("/console/lookup", data={"q": number}).status_code == 302
            paid = client.post(
                "/api/v1/payments",
                json={"bill_ids": [visit["bill_id"]]},
                headers=bearer(token) | {"Idempotency-Key": "log-key-000001"},
            )
            assert paid.status_code == 201, paid.get_json()
            out_trade_no = paid.get_json()["payment"]["out_trade_no"]
            assert client.post("/sandbox/wechatpay/orders/%s/pay" % out_trade_no).get_json()["status"] == 200
            client.get("/api/v1/bills?x=" + QUERY_PHONE, headers=bearer(token))
            client.get("/api/v1/postpay/eligibility?patient_id=" + relative_id, headers=bearer(token))
            requests.get(app.config["LIVE_URL"] + "/api/v1/bills?phone=" + QUERY_PHONE, timeout=10)
            assert client.get("/boom").status_code == 500
    finally:
        handler.setStream(previous)
    assert "POST /api/v1/payments 201" in written.getvalue() and "Traceback" in written.getvalue()
    records = "\n".join("%s %s %s" % (r.getMessage(), r.exc_text or "", r.stack_info or "") for r in caplog.records)
    for where, text in (("handler output", written.getvalue()), ("caplog", caplog.text), ("records", records)):
        for secret in secrets:
            assert secret not in text, "%s in the %s" % (secret, where)


def _wait_listening(port, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not come up")


def test_gunicorn_logs_json_lines_without_query_strings_and_with_masked_paths(config, tmp_path):
    """gunicorn itself, with the project's gunicorn.conf.py and the sandbox on."""
    id_number = make_id_number(birth="19660606")
    settings = {k: v for k, v in config.items() if k.isupper() and k not in ("TESTING", "POSTPAY_SANDBOX")}
    settings["SQLALCHEMY_DATABASE_URI"] = "sqlite:///%s" % (tmp_path / "empty.sqlite3")  # no request here needs it
    (tmp_path / "config.py").write_text("".join("%s = %r\n" % kv for kv in settings.items()))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(POSTPAY_INSTANCE_PATH=str(tmp_path), POSTPAY_SANDBOX="1", PORT=str(port), GUNICORN_THREADS="4")
    out, err = open(tmp_path / "stdout", "w+"), open(tmp_path / "stderr", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=err,
    )
    try:
        _wait_listening(port, proc)
        base = "http://127.0.0.1:%d" % port
        answers = [
            requests.get(base + "/api/v1/me?x=" + QUERY_PHONE, timeout=10),
            requests.get(base + "/api/v1/postpay/eligibility?patient_id=" + id_number, timeout=10),
            requests.get(base + "/sandbox/sms/outbox?phone=" + QUERY_PHONE, timeout=10),
            requests.get(base + "/api/v1/visits/" + id_number, timeout=10),  # a number in the path itself
            requests.get(
                base + "/console/login?next=/console/" + id_number,
                headers={"Referer": base + "/?q=" + QUERY_PHONE},
                timeout=10,
            ),  # fmt: skip
        ]
        assert [a.status_code for a in answers] == [401, 401, 200, 401, 200]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    out.seek(0)
    err.seek(0)
    access, errors = out.read(), err.read()
    lines = [json.loads(line) for line in errors.splitlines() if line.strip()]  # every line a JSON object
    served = {
        (e.get("method"), e.get("route"), e.get("status")): e for e in lines if e.get("logger") == "postpay.access"
    }
    me = served[("GET", "/api/v1/me", 401)]
    assert me["request_id"] == answers[0].headers["X-Request-Id"] and me["latency_ms"] >= 0
    assert served[("GET", "/api/v1/visits/<visit_id>", 401)]["path"] == "/api/v1/visits/" + mask_text(id_number)
    assert ("GET", "/sandbox/sms/outbox", 200) in served
    assert any(e.get("logger") == "gunicorn.error" and "Booting worker" in e["message"] for e in lines)
    assert access == ""  # no plain-text access log of gunicorn's own
    for secret in (id_number, QUERY_PHONE):
        assert secret not in errors, secret
