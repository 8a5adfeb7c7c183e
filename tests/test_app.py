"""The app shell: config layering, one error format, request ids, body limit, OpenAPI coverage."""

import logging
import re

import pytest

from app import create_app
from postpay.openapi import all_specs
from postpay.posture import UnsafeConfiguration


def test_config_layers_defaults_instance_then_environment(tmp_path, keys, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        "SECRET_KEY = %r\nPOSTPAY_DATA_KEY = %r\nPOSTPAY_TOKEN_TTL = 60\nWECHAT_APPID = 'from-file'\n"
        % (keys["SECRET_KEY"], keys["POSTPAY_DATA_KEY"])
        + "".join("%s = %r\n" % (k, keys[k]) for k in ("WECHATPAY_PRIVATE_KEY_PATH", "WECHATPAY_PUBLIC_KEY_PATH"))
    )
    monkeypatch.setenv("POSTPAY_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("WECHAT_APPID", "from-env")
    monkeypatch.setenv("POSTPAY_SANDBOX", "1")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    app = create_app()
    assert app.config["POSTPAY_TOKEN_TTL"] == 60  # file over default
    assert app.config["WECHAT_APPID"] == "from-env"  # environment over file
    assert app.config["POSTPAY_SANDBOX"] is True
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_missing_secrets_fail_at_start(config, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("POSTPAY_DATA_KEY", raising=False)
    with pytest.raises(UnsafeConfiguration) as caught:
        create_app(dict(config, SECRET_KEY="", POSTPAY_DATA_KEY=""))
    assert [p.split(" ")[0] for p in caught.value.problems] == ["SECRET_KEY", "POSTPAY_DATA_KEY"]


@pytest.mark.parametrize(
    "method, path, kwargs, status, code",
    [
        ("get", "/no/such/page", {}, 404, "NOT_FOUND"),
        ("put", "/api/v1/me", {}, 405, "METHOD_NOT_ALLOWED"),
        (
            "post",
            "/api/v1/auth/wechat-login",
            {"data": "{not json", "content_type": "application/json"},
            400,
            "MALFORMED_JSON",
        ),
        ("post", "/api/v1/auth/wechat-login", {"data": "", "content_type": "application/json"}, 400, "MALFORMED_JSON"),
        ("post", "/api/v1/auth/wechat-login", {"json": [1, 2]}, 422, "VALIDATION_ERROR"),
        (
            "post",
            "/api/v1/auth/wechat-login",
            {"data": b"\xff\xfe", "content_type": "application/json"},
            400,
            "MALFORMED_JSON",
        ),
        (
            "post",
            "/api/v1/auth/wechat-login",
            {"data": "x" * (600 * 1024), "content_type": "application/json"},
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ],
)
def test_every_error_has_the_one_format(client, method, path, kwargs, status, code):
    resp = getattr(client, method)(path, **kwargs)
    assert resp.status_code == status
    assert resp.get_json() == {"error": {"code": code, "message": resp.get_json()["error"]["message"]}}
    assert resp.get_json()["error"]["message"]


def test_unhandled_exception_is_a_500_in_the_error_format(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom 320602198001010013")

    resp = client.get("/boom")
    assert resp.status_code == 500
    assert resp.get_json()["error"]["code"] == "INTERNAL_ERROR"
    assert "kaboom" not in resp.get_data(as_text=True)


def test_request_id_in_header_and_every_log_line(client, caplog, login):
    with caplog.at_level(logging.INFO):
        resp = client.get("/api/v1/me", headers={"X-Request-Id": "req-abcdef-123"})
    assert resp.headers["X-Request-Id"] == "req-abcdef-123"
    ours = [r for r in caplog.records if r.name.startswith("postpay")]
    assert ours and all(r.request_id == "req-abcdef-123" for r in ours)

    fresh = client.get("/api/v1/me")
    assert len(fresh.headers["X-Request-Id"]) == 32
    evil = client.get("/api/v1/me", headers={"X-Request-Id": "bad id; drop <script>"})
    assert evil.headers["X-Request-Id"] != "bad id; drop <script>"


def test_log_lines_mask_identity_numbers_and_phones(app, caplog):
    log = logging.getLogger("postpay.test")
    with caplog.at_level(logging.INFO):
        log.info("patient %s phone %s", "320602198001010013", "13812345678")
    assert "320602198001010013" not in caplog.text and "13812345678" not in caplog.text
    assert "320602********0013" in caplog.text and "138****5678" in caplog.text


def test_openapi_documents_every_route(app, client):
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    specs = all_specs()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint == "boom":
            continue
        assert rule.endpoint in specs, "route %s has no OpenAPI description" % rule.rule
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)  # <path:path> -> {path}
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][path], "%s %s missing from /openapi.json" % (method, path)


def test_devkeys_completes_an_older_config_without_changing_it(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from postpay.devkeys import DERIVED, LINKED, write_instance_config
    from wechat.medins import public_key_of

    assert write_instance_config(str(tmp_path)) == "written"
    text = (tmp_path / "config.py").read_text()
    dropped = set(LINKED) | set(DERIVED)
    old = "".join(line for line in text.splitlines(True) if line.split(" = ")[0] not in dropped)
    (tmp_path / "config.py").write_text(old)  # as an earlier version wrote it
    assert write_instance_config(str(tmp_path)) == "updated"
    values = {}
    exec((tmp_path / "config.py").read_text(), {}, values)
    assert all(values[key] == values[source] for key, source in LINKED.items())
    keys = {key: source for key, (source, _) in DERIVED.items() if not key.endswith("_PATH")}
    assert all(values[key] == public_key_of(values[source]) for key, source in keys.items())
    with open(values["WECHATPAY_APICLIENT_CERT_PATH"], "rb") as f:  # made for the merchant key already there
        cert = x509.load_pem_x509_certificate(f.read())
    with open(values["WECHATPAY_PRIVATE_KEY_PATH"], "rb") as f:
        merchant = serialization.load_pem_private_key(f.read(), None)
    assert cert.public_key().public_numbers() == merchant.public_key().public_numbers()
    assert (tmp_path / "config.py").read_text().startswith(old)
    assert write_instance_config(str(tmp_path)) == "kept"


def test_a_read_only_route_reads_without_a_transaction_and_cannot_write(app):
    """``route(read_only=True)``: the busiest reads skip BEGIN/COMMIT, so a write there must fail."""
    from flask import Blueprint, jsonify, request
    from flask.testing import FlaskClient

    from postpay.api import SPEC, route
    from postpay.extensions import db
    from postpay.hospitals.models import Hospital

    bp = Blueprint("readonly_probe", __name__)

    @route(bp, "/probe/<code>", ["GET"], "probe", auth=None, read_only=True)
    def probe(code):
        found = db.session.execute(db.select(Hospital.code).where(Hospital.code == code)).first()
        if found is None and request.args.get("add"):
            db.session.add(Hospital(code=code, name="只读探针", mchid="1900000000", his_secret="s"))
        return jsonify({"found": found is not None})

    app.register_blueprint(bp)
    try:
        client = FlaskClient(app)
        assert client.get("/probe/RO99").get_json() == {"found": False}
        assert client.get("/probe/RO99?add=1").status_code == 500  # the write is refused, not committed
        assert client.get("/probe/RO99").get_json() == {"found": False}
    finally:
        SPEC.pop("readonly_probe.probe")


def test_api_answers_are_not_cached_nor_sniffed(app, client, person, his):
    token, patient = person("o-headers")
    visit = his.visit("H-1", patient)["visit_id"]
    stream = client.get("/api/v1/visits/%s/events" % visit, headers={"Authorization": "Bearer " + token})
    assert stream.mimetype == "text/event-stream" and stream.headers["X-Content-Type-Options"] == "nosniff"
    assert stream.headers["Cache-Control"] in ("no-cache", "no-store")  # its own
    stream.close()
    answers = [
        client.get("/api/v1/hospitals"),
        client.get("/api/v1/me", headers={"Authorization": "Bearer " + token}),
        client.get("/api/v1/me"),  # 401
        client.get("/api/v1/no-such-thing"),  # 404
        client.post("/api/v1/auth/wechat-login", data="{", content_type="application/json"),  # 400
        client.get("/openapi.json"),
        his.open("/his/v1/visits/NO-SUCH", method="GET"),
    ]
    for resp in answers:
        assert resp.headers["X-Content-Type-Options"] == "nosniff", resp.request.path
        assert resp.headers["Cache-Control"] == "no-store", resp.request.path
