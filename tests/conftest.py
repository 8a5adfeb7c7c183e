"""Fixtures: a fresh app per test on the real database and Redis named by
``DATABASE_URL``/``REDIS_URL`` (else SQLite + fakeredis), served on a live local
port as well, so the app's WeChat, medical-insurance and SMS clients reach the
sandbox over real HTTP. Every JSON answer the test client gets is checked
against the route's schema in ``/openapi.json``."""

import base64
import contextlib
import fnmatch
import json
import os
import random
import secrets
import threading

import jsonschema
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient
from sqlalchemy import MetaData, text
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing.rules import Rule
from werkzeug.serving import make_server

from app import create_app
from postpay.accounts.identity import check_digit
from postpay.devkeys import apiclient_cert, generate
from postpay.extensions import db
from postpay.openapi import ERROR, all_specs, error_codes

_schema_ready = set()


def _memoize_url_builders():
    """Every test makes its own app, and werkzeug compiles two URL-building functions (ast, then
    ``compile``) for each of its ~140 rules: about half of ``create_app``'s time. A builder is a
    plain function of the rule's text and parsed parts, bound to its rule when used, so one made
    for an earlier app's identical rule is the same function: reuse it. Rules with defaults
    (their values are folded into the code) are compiled as usual."""
    compile_builder, built = Rule._compile_builder, {}

    def _compile_builder(self, append_unknown=True):
        if self.defaults:
            return compile_builder(self, append_unknown)
        key = (self.rule, tuple(self._trace), append_unknown)
        if key not in built:
            built[key] = compile_builder(self, append_unknown)
        return built[key]

    Rule._compile_builder = _compile_builder


_memoize_url_builders()


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    return generate(str(tmp_path_factory.mktemp("keys")))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    return os.environ.get("DATABASE_URL") or "sqlite:///%s" % (tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture
def config(keys, database_url):
    """The test app's config; a test may change it before asking for ``app``."""
    return base_config(keys, database_url)


def base_config(keys, database_url):
    """What ``config`` gives: the sandbox on, the session's keys, database and Redis."""
    return dict(
        keys,
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=database_url,
        REDIS_URL=os.environ.get("REDIS_URL") or None,
        POSTPAY_SANDBOX=True,
        LOG_LEVEL="INFO",
        SANDBOX_WECHATPAY_SUB_MCHIDS=["1900000109", "1900000110"],  # the hospitals fixture's, as sub-merchants
    )


def _reset_database(database_url):
    """Migrate a fresh schema once per test session, then empty the tables before each test."""
    from flask_migrate import upgrade

    if database_url not in _schema_ready:
        old = MetaData()
        old.reflect(db.engine)
        old.drop_all(db.engine)
        upgrade()
        _schema_ready.add(database_url)
        return
    # DELETE, children first: on PostgreSQL a TRUNCATE of every table makes new files for each
    # (0.1-0.3 s a test), a DELETE of the few rows a test left takes ~10 ms. A table whose trigger
    # refuses DELETE (the append-only audit log) is truncated. No table has a sequence (ids are
    # strings): there is no identity to restart.
    with db.engine.begin() as conn:
        if database_url not in _delete_refused:
            _delete_refused[database_url] = _tables_refusing_delete(conn)
        for table in reversed(db.metadata.sorted_tables):
            if table.name in _delete_refused[database_url]:
                conn.execute(text("TRUNCATE %s CASCADE" % table.name))
            else:
                conn.execute(text("DELETE FROM %s" % table.name))


#: database URL -> the tables a row trigger keeps from DELETE.
_delete_refused = {}


def _tables_refusing_delete(conn):
    """Tables with a row-level BEFORE/AFTER DELETE trigger of their own (PostgreSQL)."""
    if conn.dialect.name != "postgresql":
        return set()
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND t.tgtype & 1 = 1 AND t.tgtype & 8 = 8"
            " AND c.relnamespace = current_schema()::regnamespace"
        )
    )
    return {name for (name,) in rows}


@pytest.fixture
def app(config):
    with serving(config) as app:
        yield app


@pytest.fixture(scope="module")
def module_app(keys, database_url):
    """One app for all the tests of a module that ask for it, for tests that only read what a
    module-scoped fixture built, or only get refusals: the module says
    ``app = pytest.fixture(lambda module_app: module_app)`` (then ``client``, ``his`` and the other
    fixtures use it too). Tables and Redis are emptied when it is made, not between its tests."""
    with serving(base_config(keys, database_url)) as app:
        yield app


@contextlib.contextmanager
def serving(config):
    """A new app on emptied tables and Redis, served on a live local port until the block ends."""
    app = create_app(config)
    app.test_client_class = CheckedClient
    with app.app_context():
        _reset_database(config["SQLALCHEMY_DATABASE_URI"])
        if config["REDIS_URL"]:
            app.extensions["redis"].flushdb()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # The loop sees shutdown() at its next poll, and each test waits for that (at 0.05 s: ~30 s a run).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    app.config["POSTPAY_SANDBOX_URL"] = "http://127.0.0.1:%d/sandbox" % server.server_port
    app.config["LIVE_URL"] = "http://127.0.0.1:%d" % server.server_port
    app.config["WECHATPAY_NOTIFY_URL"] = app.config["LIVE_URL"] + "/wechat/pay/notify"
    try:
        yield app
    finally:
        server.shutdown()
        thread.join(5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def redis(app):
    return app.extensions["redis"]


class CheckedClient(FlaskClient):
    """A test client that fails a test when an answer does not match its documented schema."""

    def open(self, *args, **kwargs):
        resp = super().open(*args, **kwargs)
        check_answer(self.application, resp.request.method, resp.request.path, resp)
        return resp


def check_answer(app, method, path, resp):
    try:
        endpoint, _ = app.url_map.bind("localhost").match(path, method)
    except (NotFound, MethodNotAllowed):
        endpoint = None
    if resp.status_code >= 400 and resp.mimetype == "application/json":
        if endpoint is None or not endpoint.startswith("sandbox.") or resp.status_code != 200:
            validate(resp.get_json(), ERROR)
            check_error_declared(endpoint, method, path, resp)
            return
    if endpoint is None or resp.status_code >= 400:
        return
    spec = all_specs()[endpoint]
    assert resp.status_code in spec["responses"], "%s %s answered %s, undocumented" % (method, path, resp.status_code)
    schema = spec["responses"][resp.status_code]
    if isinstance(schema, str):  # a media type, or a range such as text/*
        assert fnmatch.fnmatchcase(resp.mimetype, schema), (resp.mimetype, schema)
    elif schema is None:
        assert resp.data == b"", "%s %s documents no body" % (method, path)
    else:
        validate(resp.get_json(), schema)


#: id(schema) -> (schema, its validator): a schema is checked against its metaschema once.
_validators = {}


def validate(instance, schema):
    """``jsonschema.validate``, whose check of the schema itself (against the metaschema) took
    nearly all of its time, and a fifth of the suite's: done once for each schema, not at each answer."""
    found = _validators.get(id(schema))
    if found is None or found[0] is not schema:  # the schema is kept, so its id is not reused
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        found = _validators[id(schema)] = (schema, cls(schema))
    error = jsonschema.exceptions.best_match(found[1].iter_errors(instance))
    if error is not None:
        raise error


def check_error_declared(endpoint, method, path, resp):
    """An error answer's (status, code) is one its route declares (``route(errors=...)``, with the
    common ones): ``/openapi.json`` lists every error a route gives. The sandbox speaks the real
    services' formats and is left out. With ``POSTPAY_RECORD_ERRORS=file`` an undeclared one is
    written to that file (a JSON line) instead of failing, to find them all in one run."""
    spec = all_specs().get(endpoint)
    if spec is None or endpoint.startswith("sandbox."):
        return
    code = resp.get_json()["error"]["code"]
    if code in error_codes(spec).get(resp.status_code, ()):
        return
    record = os.environ.get("POSTPAY_RECORD_ERRORS")
    if record:
        with open(record, "a") as out:
            out.write(json.dumps({"endpoint": endpoint, "status": resp.status_code, "code": code}) + "\n")
        return
    raise AssertionError("%s %s answered %s %s: not in its route's errors=" % (method, path, resp.status_code, code))


# --- production settings ---------------------------------------------------


def _pem_pair(directory, name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = directory / (name + "_key.pem")
    public = directory / (name + "_pub.pem")
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return str(private), str(public)


@pytest.fixture
def production(tmp_path):
    """Settings a production operator gives, with no sandbox: nothing generated by postpay.devkeys."""
    merchant, _ = _pem_pair(tmp_path, "merchant")
    _, platform = _pem_pair(tmp_path, "platform")
    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "POSTPAY_DATA_KEY": base64.b64encode(os.urandom(32)).decode(),
        "WECHATPAY_MCHID": "1900000109",
        "WECHATPAY_APIV3_KEY": secrets.token_hex(16),
        "WECHATPAY_PRIVATE_KEY_PATH": merchant,
        "WECHATPAY_APICLIENT_CERT_PATH": apiclient_cert(merchant),  # for a key devkeys never saw
        "WECHATPAY_CERT_SERIAL": secrets.token_hex(20).upper(),
        "WECHATPAY_PUBLIC_KEY_PATH": platform,
        "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0114232134912410000000000000000000",
        "WECHATPAY_NOTIFY_URL": "https://pay.example.cn/wechat/pay/notify",
        "MEDINS_USERQUERY_SECRET": secrets.token_hex(16),
        "SQLALCHEMY_DATABASE_URI": "sqlite:///%s" % (tmp_path / "prod.sqlite3"),
        "POSTPAY_SANDBOX": False,
    }


# --- factories -------------------------------------------------------------


def make_id_number(region="320602", birth="19800101", seq=None):
    """A valid 18-digit identity number (right check digit)."""
    first17 = "%s%s%03d" % (region, birth, random.randint(0, 999) if seq is None else seq)
    return first17 + check_digit(first17)


@pytest.fixture
def login(client):
    """``login(openid) -> token``: a wx.login code from the sandbox, exchanged for a bearer token."""

    def _login(openid="o-user-1", unionid=None):
        body = {"openid": openid} | ({"unionid": unionid} if unionid else {})
        code = client.post("/sandbox/wechat/login-codes", json=body).get_json()["code"]
        resp = client.post("/api/v1/auth/wechat-login", json={"code": code})
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["token"]

    return _login


@pytest.fixture
def oa_login(client):
    """``oa_login(openid, unionid=None, next="/mp/") -> token``: the official account's web login
    (/oauth/wechat/start, the sandbox's authorization, /oauth/wechat/callback), the bearer token
    read from the fragment of the redirect back to ``next``. With a unionid the app asks for scope
    snsapi_userinfo (WeChat gives the unionid for that scope only) and the sandbox knows the
    person's unionid."""
    from urllib.parse import parse_qs, urlsplit

    def _oa_login(openid="o-oa-user-1", unionid=None, next="/mp/"):
        if unionid:
            client.application.config["WECHAT_MP_OAUTH_SCOPE"] = "snsapi_userinfo"
        started = client.get("/oauth/wechat/start", query_string={"next": next})
        assert started.status_code == 302, started.get_json()
        asked = parse_qs(urlsplit(started.headers["Location"]).query)
        body = {"openid": openid, "scope": asked["scope"][0]} | ({"unionid": unionid} if unionid else {})
        state = asked["state"][0]
        code = client.post("/sandbox/wechat/oauth-codes", json=body).get_json()["code"]
        back = client.get("/oauth/wechat/callback", query_string={"code": code, "state": state})
        assert back.status_code == 302, back.get_json()
        location = urlsplit(back.headers["Location"])
        assert location.path == next and not location.query
        return parse_qs(location.fragment)["token"][0]

    return _oa_login


@pytest.fixture
def verify(client):
    """``verify(token, **person) -> response``: medical-insurance authorization through the sandbox."""

    def _verify(token, **person):
        person = {
            "name": "张建国",
            "id_number": make_id_number(),
            "insured_region": "320602",
            "insurance_type": "employee",
            "insured_status": "normal",
        } | person
        code = client.post("/sandbox/medins/auth-codes", json=person).get_json()["auth_code"]
        return client.post("/api/v1/me/insurance-auth", json={"auth_code": code}, headers=bearer(token))

    return _verify


def bearer(token):
    return {"Authorization": "Bearer " + token}


@pytest.fixture
def phone(client):
    """``phone(token, number)``: bind a WeChat-vouched phone to the account."""

    def _phone(token, number):
        code = client.post("/sandbox/wechat/phone-codes", json={"phone": number}).get_json()["code"]
        assert client.post("/api/v1/auth/phone", json={"code": code}, headers=bearer(token)).status_code == 200

    return _phone


@pytest.fixture
def person(login, verify):
    """``person(openid, **identity) -> (token, patient_json)``: a logged-in, verified account."""

    def _person(openid, **identity):
        token = login(openid)
        identity.setdefault("id_number", make_id_number(birth=identity.pop("birth", "19800101")))
        resp = verify(token, **identity)
        assert resp.status_code == 200, resp.get_json()
        return token, resp.get_json()["patient"] | {"id_number_plain": identity["id_number"]}

    return _person


def last_sms_code(client, number):
    """The six digits of the newest SMS the sandbox delivered to ``number``."""
    import re

    messages = client.get("/sandbox/sms/outbox?phone=" + number).get_json()["messages"]
    return re.search(r"验证码为(\d{6})", messages[-1]["text"]).group(1)


@pytest.fixture
def signed(client):
    """``signed(token, patient_id, number) -> response``: the whole R7 flow in the mini-program."""
    from tests.pngs import png

    def _signed(token, patient_id, number, **override):
        sent = client.post(
            "/api/v1/postpay/sms-code", json={"patient_id": patient_id, "phone": number}, headers=bearer(token)
        )
        assert sent.status_code == 204, sent.get_json()
        body = {
            "patient_id": patient_id,
            "commitment_version": client.get("/api/v1/postpay/commitment").get_json()["version"],
            "sms_code": last_sms_code(client, number),
            "signature_png": base64.b64encode(png()).decode(),
        } | override
        return client.post("/api/v1/postpay/contracts", json=body, headers=bearer(token))

    return _signed


@pytest.fixture
def bind(client):
    """``bind(asker_token, relative_token, relative_patient, permissions) -> binding id``, consented."""

    def _bind(asker, relative_token, relative, permissions=("view", "accompany", "pay"), relationship="parent"):
        body = {
            "relative": {"name": relative["name"], "id_number": relative["id_number_plain"]},
            "relationship": relationship,
            "permissions": list(permissions),
        }
        resp = client.post("/api/v1/family/bindings", json=body, headers=bearer(asker))
        assert resp.status_code == 201, resp.get_json()
        binding_id = resp.get_json()["binding"]["id"]
        if relative_token is not None:
            ok = client.post("/api/v1/family/bindings/%s/consent" % binding_id, json={}, headers=bearer(relative_token))
            assert ok.status_code == 200, ok.get_json()
        return binding_id

    return _bind


@pytest.fixture
def hospitals(app):
    """Two hospitals on the hub: NT01 and HA01, with HIS secrets ``his-secret-<code>``,
    their 定点医药机构编号 and Tencent's med-ins city id (postpay.demo's, both in Nantong)."""
    from postpay.demo import MEDINS_CITY_ID_NANTONG
    from postpay.hospitals.service import upsert_hospital

    with app.app_context():
        upsert_hospital(
            "NT01", "南通市第一人民医院", "1900000109", "his-secret-nt01", "H32060200001", MEDINS_CITY_ID_NANTONG
        )
        upsert_hospital("HA01", "海安市中医院", "1900000110", "his-secret-ha01", "H32068500002", MEDINS_CITY_ID_NANTONG)
        db.session.commit()
    return ["NT01", "HA01"]


@pytest.fixture
def kiosk(app, hospitals):
    """``kiosk.open(method, path, json=..., data=...)``: a request signed by a registered kiosk device."""
    from postpay.kiosk.service import add_device

    with app.app_context():
        add_device("NT01", "KIOSK-NT01-01", "kiosk-secret-01")
        db.session.commit()
    return SignedCaller(app.test_client(), "X-Kiosk-Id", "KIOSK-NT01-01", "kiosk-secret-01")


@pytest.fixture
def his(app, hospitals):
    """The HIS of NT01 calling the signed API; ``his.at("HA01")`` is the other hospital's."""
    return HisCaller(app.test_client(), "NT01")


class HisCaller:
    """A hospital information system driving the signed HIS API, as the simulator does."""

    def __init__(self, client, code):
        self.client, self.code = client, code
        self.signed = SignedCaller(client, "X-Hospital-Id", code, "his-secret-" + code.lower())

    def at(self, code):
        return HisCaller(self.client, code)

    def open(self, *args, **kwargs):
        return self.signed.open(*args, **kwargs)

    def visit(self, no, patient, registered_at=None, **extra):
        """Register visit ``no`` for ``patient`` ({"name", "id_number_plain"}); returns the answer JSON."""
        import datetime as _dt

        body = {
            "his_visit_no": no,
            "patient": {"name": patient["name"], "id_number": patient["id_number_plain"]},
            "department": "心内科",
            "doctor": "王医生",
            "registered_at": registered_at or _dt.datetime.now(_dt.timezone(_dt.timedelta(hours=8))).isoformat(),
        } | extra
        resp = self.open("/his/v1/visits", json=body)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    def items(self, no, *items):
        """Report items given as (his_item_no, category, name, quantity, unit_price_fen[, extra])."""
        body = {"items": [item(*i) for i in items]}
        resp = self.open("/his/v1/visits/%s/items" % no, json=body)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["items"]

    def event(self, no, type_, at=None, **detail):
        import datetime as _dt

        at = at or _dt.datetime.now(_dt.timezone(_dt.timedelta(hours=8))).isoformat()
        resp = self.open("/his/v1/visits/%s/events" % no, json={"type": type_, "at": at, "detail": detail})
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()


def item(no, category, name, quantity, unit_price_fen, extra=None):
    from postpay.visits.service import amount_for, to_milli

    amount = amount_for(to_milli(quantity), unit_price_fen)
    return {
        "his_item_no": no,
        "category": category,
        "name": name,
        "quantity": quantity,
        "unit_price_fen": unit_price_fen,
        "amount_fen": amount,
    } | (extra or {})


class SignedCaller:
    """Signs requests as a HIS or kiosk does (API.md)."""

    def __init__(self, client, id_header, caller_id, secret):
        self.client, self.id_header, self.caller_id, self.secret = client, id_header, caller_id, secret

    def headers(self, method, path, body, timestamp=None, nonce=None):
        import secrets as _secrets
        import time as _time

        from postpay.his.signing import sign

        timestamp = str(int(timestamp if timestamp is not None else _time.time()))
        nonce = nonce or _secrets.token_hex(12)
        return {
            self.id_header: self.caller_id,
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": sign(self.secret, method, path, timestamp, nonce, body),
        }

    def open(self, path, method="POST", json=None, data=None, headers=None, content_type="application/json", **kw):
        import json as _json

        body = data.encode() if isinstance(data, str) else data if data is not None else _json.dumps(json).encode()
        signed = self.headers(method, path, body, **kw) | (headers or {})  # the query is signed too
        return self.client.open(path, method=method, data=body, headers=signed, content_type=content_type)


@pytest.fixture
def own_redis(config):
    """A Redis server of the test's own (it may stop it), and the app pointed at it."""
    from tests import servers

    server = servers.Redis().start()
    config["REDIS_URL"] = server.url
    yield server
    server.stop()


def run_jobs(app):
    """Run every queued job with a real RQ worker (burst), in the app context, as `jobs worker` does."""
    from postpay.queue import AppWorker, queue

    with app.app_context():
        q = queue()
        worker = AppWorker([q], connection=q.connection)
        worker.work(burst=True)
        return worker


def count_statements(app, fn, writes_only=False):
    """SQL statements (or only INSERT/UPDATE/DELETE) the app runs while ``fn`` runs, in any thread."""
    from sqlalchemy import event

    count = {"n": 0}

    def before(conn, cursor, statement, *args):
        verb = statement.lstrip().split(" ", 1)[0].upper()
        count["n"] += not writes_only or verb in ("INSERT", "UPDATE", "DELETE")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return count["n"]
