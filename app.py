"""The application factory and the command line. Nothing else lives here."""

import os

import click
from flask import Flask
from sqlalchemy import event

from postpay import api, errors, inputs, lifecycle, models, openapi, posture  # noqa: F401  (models: every table)
from postpay import config as cfg
from postpay.accounts.views import bp as accounts_bp
from postpay.billing.views import bp as billing_bp
from postpay.console import desks, sessions, views  # noqa: F401  (desks, views: pages on the console blueprint)
from postpay.console.pages import bp as console_bp
from postpay.contracts.views import bp as contracts_bp
from postpay.extensions import db, init_redis, migrate
from postpay.family.views import bp as family_bp
from postpay.his.views import bp as his_bp
from postpay.insurance.views import bp as insurance_bp
from postpay.kiosk.views import bp as kiosk_bp
from postpay.payments.views import bp as payments_bp
from postpay.visits.views import bp as visits_bp
from wechat import sandbox

BLUEPRINTS = [
    accounts_bp,
    contracts_bp,
    family_bp,
    kiosk_bp,
    his_bp,
    visits_bp,
    billing_bp,
    payments_bp,
    console_bp,
    insurance_bp,
    openapi.bp,
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

    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    if app.config["POSTPAY_SANDBOX"]:
        app.register_blueprint(sandbox.bp)
    register_cli(app)
    return app


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def register_cli(app):
    @app.cli.group()
    def hospital():
        """Hospitals on the hub."""

    @hospital.command("add")
    @click.argument("code")
    @click.argument("name")
    @click.option("--mchid", required=True, help="WeChat Pay merchant id of the hospital")
    @click.option("--his-secret", required=True, help="the HIS request-signing secret")
    def hospital_add(code, name, mchid, his_secret):
        """Create or update a hospital; CODE is its X-Hospital-Id."""
        from postpay.hospitals.service import upsert_hospital

        found, created = upsert_hospital(code, name, mchid, his_secret)
        db.session.commit()
        click.echo("%s hospital %s %s" % ("created" if created else "updated", found.code, found.name))

    @app.cli.group()
    def his():
        """The hospital information system side."""

    @his.command("simulate")
    @click.option("--hospital", "hospital_code", required=True, help="X-Hospital-Id of the simulated HIS")
    @click.option("--date", "day", default=None, help="visit day, YYYY-MM-DD (default: today in Shanghai)")
    @click.option("--visits", default=20, show_default=True)
    @click.option("--strangers", default=10, show_default=True, help="unknown outpatients among the patients")
    @click.option("--seed", default=0, show_default=True)
    @click.option("--url", default=None, help="a running service (default: this app, in-process)")
    @click.option("--unfinished", is_flag=True, help="leave the visits running (no visit_finished)")
    def his_simulate(hospital_code, day, visits, strangers, seed, url, unfinished):
        """Drive a realistic day of visits through the signed HIS API."""
        import datetime as dt
        import random

        from postpay.accounts.models import Patient
        from postpay.contracts.eligibility import today
        from postpay.his import simulate
        from postpay.hospitals.models import Hospital

        hospital = Hospital.query.filter_by(code=hospital_code).one_or_none()
        if hospital is None:
            raise click.ClickException("no hospital %s: add it with `hospital add`" % hospital_code)
        rng = random.Random(seed)
        patients = [{"name": p.name, "id_number": p.id_number} for p in Patient.query.limit(50)]
        patients += [simulate.stranger(rng) for _ in range(strangers)]
        transport = simulate.Transport(
            hospital.code, hospital.his_secret, url=url, client=None if url else app.test_client()
        )
        db.session.remove()
        when = dt.date.fromisoformat(day) if day else today()
        summary = simulate.simulate_day(transport, patients, when, visits, seed, finish=not unfinished)
        click.echo("%(visits)d visits: %(postpay)d post-pay, %(pay_as_you_go)d pay-as-you-go" % summary)

    @app.cli.group()
    def jobs():
        """Background jobs (RQ)."""

    @jobs.command("worker")
    @click.option("--burst", is_flag=True, help="stop when the queues are empty")
    def jobs_worker(burst):
        """Run an RQ worker for the pushes and sweeps queues, and the sweep scheduler, in the app context."""
        from rq import Worker

        from postpay.jobs import PUSHES, SWEEPS, queue, start_scheduler

        if not app.config.get("REDIS_URL"):
            raise click.ClickException("a worker needs a real Redis: set REDIS_URL")
        queues = [queue(PUSHES), queue(SWEEPS)]
        if not burst:
            start_scheduler(app)  # every worker may run it: each sweep is queued once per period
        Worker(queues, connection=queues[0].connection).work(burst=burst, with_scheduler=True)

    @app.cli.group()
    def payments():
        """WeChat Pay payments."""

    @payments.command("reconcile")
    @click.option("--date", "day", required=True, help="YYYY-MM-DD (Shanghai)")
    def payments_reconcile(day):
        """Compare the day's WeChat statement with our records; exit 1 on any difference."""
        import datetime as dt

        from postpay.payments.reconcile import reconcile

        found = reconcile(dt.date.fromisoformat(day))
        for kind, no, theirs, ours in found:
            click.echo("%s %s wechat=%s ours=%s" % (kind, no, theirs, ours))
        click.echo("%d difference(s) on %s" % (len(found), day))
        if found:
            raise SystemExit(1)

    @jobs.command("run-sweeps")
    @click.option("--now", "now_text", required=True, help="ISO time with offset: run every sweep as of then")
    def jobs_run_sweeps(now_text):
        """Run every scheduled sweep once, as of --now."""
        import datetime as dt

        from postpay.jobs import run_sweeps

        now = dt.datetime.fromisoformat(now_text)
        if now.tzinfo is None:
            raise click.BadParameter("give an offset, e.g. 2026-11-22T23:59:00+08:00")
        for name, result in run_sweeps(now):
            click.echo("%s: %s" % (name, result))

    @app.cli.group()
    def kiosk():
        """Self-service kiosks."""

    @kiosk.command("add")
    @click.argument("hospital_code")
    @click.argument("device_code")
    @click.option("--secret", help="the device's signing secret (default: a new random one, printed once)")
    def kiosk_add(hospital_code, device_code, secret):
        """Register or re-key a kiosk; DEVICE_CODE is its X-Kiosk-Id."""
        from postpay.kiosk.service import add_device

        device, secret = add_device(hospital_code, device_code, secret)
        db.session.commit()
        click.echo("kiosk %s at %s secret %s" % (device.code, hospital_code, secret))

    @app.cli.group()
    def staff():
        """Staff accounts of the window console."""

    @staff.command("create")
    @click.argument("username", required=False)
    @click.option("--username", "username_option", help="the login name (or give it as the argument)")
    @click.option("--role", required=True, type=click.Choice(["window", "supervisor", "admin"]))
    @click.option("--hospital", "hospital_code", required=True, help="X-Hospital-Id of the account's hospital")
    @click.password_option(help="asked for when not given")
    def staff_create(username, username_option, role, hospital_code, password):
        """Create a console account; the password is stored hashed."""
        from postpay.console.auth import create_staff
        from postpay.errors import DomainError

        name = username or username_option
        if not name:
            raise click.UsageError("give the USERNAME (or --username)")
        try:
            account = create_staff(name, password, role, hospital_code)
        except DomainError as e:
            raise click.ClickException(e.message) from None
        db.session.commit()
        click.echo("staff %s (%s) at %s created" % (account.username, role, hospital_code))

    @staff.command("set-password")
    @click.argument("username")
    @click.password_option(help="asked for when not given")
    def staff_set_password(username, password):
        """Give a console account a new password: its sessions end and a lock is lifted."""
        from postpay.console.auth import set_password
        from postpay.errors import DomainError

        try:
            set_password(username, password)
        except DomainError as e:
            raise click.ClickException(e.message) from None
        db.session.commit()
        click.echo("staff %s: password changed, sessions ended" % username)

    @staff.command("deactivate")
    @click.argument("username")
    def staff_deactivate(username):
        """Disable a console account: it cannot sign in and its sessions end."""
        from postpay.console.auth import deactivate
        from postpay.errors import DomainError

        try:
            deactivate(username)
        except DomainError as e:
            raise click.ClickException(e.message) from None
        db.session.commit()
        click.echo("staff %s deactivated, sessions ended" % username)

    @app.cli.group()
    def demo():
        """Demo data for `make run`."""

    @demo.command("load")
    def demo_load():
        """Load (or refresh) the demo data; safe to run again."""
        from postpay import demo as demo_data

        for line in demo_data.load():
            click.echo(line)
