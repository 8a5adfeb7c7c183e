"""The application factory. Nothing else lives here: each package registers its own commands."""

import os

from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from postpay import (  # noqa: I001
    api,
    demo_commands,
    errors,
    front,
    inputs,
    jobs_commands,
    lifecycle,
    metrics,
    models,  # noqa: F401  (every table)
    mp,
    openapi,
    posture,
    stamps,  # noqa: F401  (access stamps: a listener on every commit)
)
from postpay import config as cfg
from postpay.accounts.oauth_views import bp as oauth_bp
from postpay.accounts.views import bp as accounts_bp
from postpay.billing.views import bp as billing_bp
from postpay.booking.his_views import bp as his_booking_bp
from postpay.booking.views import bp as booking_bp
from postpay.console import commands as console_commands
from postpay.console import desks, sessions, views  # noqa: F401  (desks, views: pages on the console blueprint)
from postpay.console.pages import bp as console_bp
from postpay.contracts.views import bp as contracts_bp
from postpay.credit import commands as credit_commands
from postpay.credit.views import bp as credit_bp
from postpay.extensions import db, init_redis, migrate
from postpay.family.views import bp as family_bp
from postpay.his import commands as his_commands
from postpay.his.views import bp as his_bp
from postpay.hospitals import commands as hospital_commands
from postpay.insurance.views import bp as insurance_bp
from postpay.kiosk import commands as kiosk_commands
from postpay.kiosk.views import bp as kiosk_bp
from postpay.payments import commands as payments_commands
from postpay.payments.views import bp as payments_bp
from postpay.visits.views import bp as visits_bp
from wechat import sandbox

BLUEPRINTS = [
    accounts_bp,
    oauth_bp,
    contracts_bp,
    family_bp,
    kiosk_bp,
    his_bp,
    visits_bp,
    billing_bp,
    payments_bp,
    console_bp,
    insurance_bp,
    credit_bp,
    booking_bp,
    his_booking_bp,
    openapi.bp,
    front.bp,
    metrics.bp,
    mp.bp,
]
#: Each registers its command group (``flask --app app <group> ...``) in ``init_app``.
COMMANDS = [
    hospital_commands,
    kiosk_commands,
    his_commands,
    console_commands,
    payments_commands,
    credit_commands,
    jobs_commands,
    demo_commands,
]


def create_app(test_config=None):
    instance = os.environ.get("POSTPAY_INSTANCE_PATH")  # default: ./instance beside app.py
    app = Flask(__name__, instance_path=instance and os.path.abspath(instance), instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(cfg.defaults(app.instance_path))
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    app.config["POSTPAY_SANDBOX"] = False  # never from a file: only the environment (or a test) turns it on
    cfg.from_environment(app.config)
    if test_config is not None:
        app.config.from_mapping(test_config)
    posture.check(app)
    url = cfg.normalize_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = url

    app.json = api.JSON(app)  # orjson; Chinese messages stay readable (UTF-8, not \\u escapes)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"))
    init_redis(app)
    sessions.init_app(app)  # console sessions in that Redis
    if url.startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)
    lifecycle.init_app(app)
    inputs.init_app(app)  # after lifecycle: a refused request still gets its request id
    errors.register(app)
    metrics.init_app(app)

    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    if app.config["POSTPAY_SANDBOX"]:
        app.register_blueprint(sandbox.bp)
    for package in COMMANDS:
        package.init_app(app)
    hops = app.config["POSTPAY_PROXY_HOPS"]
    if hops:  # the client's address as the trusted proxies saw it, never as a client claims it
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    return app


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
