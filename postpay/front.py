"""The front page (``GET /``), browsable API docs (``/docs``, Swagger UI from the pinned
flask-swagger-ui package: its files are served from the package, never from a CDN) and
``GET /healthz`` for load balancers and operators."""

import os

import flask_swagger_ui
from flask import Blueprint, current_app, jsonify, render_template, send_from_directory
from sqlalchemy import text

from postpay import demo
from postpay.api import HTML, STR, loose, route
from postpay.errors import NotFound, Unavailable
from postpay.extensions import db, redis
from postpay.hospitals.models import Hospital

bp = Blueprint("front", __name__)
JS = "text/javascript"
#: The files the docs page loads; nothing else of the package is served.
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "index.css")
#: Swagger UI's files, as the pinned package ships them.
SWAGGER_DIST = os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")


@bp.after_request
def _headers(resp):
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Scripts only from our own files (Swagger UI starts from /docs/start.js, not an inline script).
    resp.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
    )
    return resp


@route(bp, "/", ["GET"], "The front page: what the service is, and where to go", auth=None, answers={200: HTML})
def front():
    sandbox = current_app.config["POSTPAY_SANDBOX"]
    hospitals = []
    if sandbox:  # development only: the demo hospitals' HIS secrets, to try the HIS calls
        codes = [code for code, *_ in demo.HOSPITALS]
        hospitals = Hospital.query.filter(Hospital.code.in_(codes)).order_by(Hospital.code).all()
    return render_template(
        "front.html",
        sandbox=sandbox,
        hospitals=hospitals,
        people=[(openid, name) for openid, name, *_ in demo.PATIENTS],
        templates=current_app.config.get("WECHAT_SUBSCRIBE_TEMPLATES") or {},
    )


def _check(probe):
    try:
        probe()
    except Exception:  # noqa: BLE001  (any failure of the dependency is "down")
        return "down"
    return "ok"


@route(
    bp,
    "/healthz",
    ["GET"],
    "Health: the database and Redis answer (else 503 UNHEALTHY with details.checks)",
    auth=None,
    answers={200: loose(status=STR, checks=loose(database=STR, redis=STR))},
    errors={503: ("UNHEALTHY",)},
)
def healthz():
    checks = {
        "database": _check(lambda: db.session.execute(text("SELECT 1"))),
        "redis": _check(redis.ping),
    }
    if any(v != "ok" for v in checks.values()):
        raise Unavailable("依赖服务不可用", code="UNHEALTHY", details={"checks": checks})
    return jsonify({"status": "ok", "checks": checks})


@route(bp, "/docs/", ["GET"], "Browsable API docs: Swagger UI reading /openapi.json", auth=None, answers={200: HTML})
def docs():
    urls = [{"url": "/openapi.json?scope=api", "name": "接口"}]
    if current_app.config["POSTPAY_SANDBOX"]:
        urls.append({"url": "/openapi.json?scope=sandbox", "name": "沙箱"})
    return render_template("docs.html", urls=urls)


@route(bp, "/docs/start.js", ["GET"], "Starts Swagger UI on /openapi.json", auth=None, answers={200: JS})
def docs_start():
    return current_app.response_class(render_template("docs.js"), mimetype=JS)


@route(bp, "/docs/<name>", ["GET"], "Swagger UI's own files (scripts, styles)", auth=None, answers={200: "text/*"})
def docs_file(name):
    if name not in SWAGGER_FILES:
        raise NotFound()
    return send_from_directory(SWAGGER_DIST, name)
