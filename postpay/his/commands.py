"""The ``his`` commands: a simulated hospital information system."""

import random

import click
from flask import current_app
from flask.cli import AppGroup

from postpay.accounts.models import Patient
from postpay.cli import DAY, BadValue
from postpay.contracts.eligibility import today
from postpay.extensions import db
from postpay.his import simulate
from postpay.hospitals.models import Hospital


@click.group(cls=AppGroup)  # AppGroup: each command runs in the app context
def his():
    """The hospital information system side."""


@his.command("simulate")
@click.option("--hospital", "hospital_code", required=True, help="X-Hospital-Id of the simulated HIS")
@click.option("--date", "day", type=DAY, default=None, help="visit day, YYYY-MM-DD (default: today in Shanghai)")
@click.option("--visits", default=20, show_default=True)
@click.option("--strangers", default=10, show_default=True, help="unknown outpatients among the patients")
@click.option("--seed", default=0, show_default=True)
@click.option("--url", default=None, help="a running service (default: this app, in-process)")
@click.option("--unfinished", is_flag=True, help="leave the visits running (no visit_finished)")
def his_simulate(hospital_code, day, visits, strangers, seed, url, unfinished):
    """Drive a realistic day of visits through the signed HIS API."""
    hospital = Hospital.query.filter_by(code=hospital_code).one_or_none()
    if hospital is None:
        raise BadValue("no hospital %s: add it with `hospital add`" % hospital_code, param_hint="'--hospital'")
    rng = random.Random(seed)
    patients = [{"name": p.name, "id_number": p.id_number} for p in Patient.query.limit(50)]
    patients += [simulate.stranger(rng) for _ in range(strangers)]
    client = None if url else current_app.test_client()
    transport = simulate.Transport(hospital.code, hospital.his_secret, url=url, client=client)
    db.session.remove()
    summary = simulate.simulate_day(transport, patients, day or today(), visits, seed, finish=not unfinished)
    click.echo("%(visits)d visits: %(postpay)d post-pay, %(pay_as_you_go)d pay-as-you-go" % summary)


def init_app(app):
    app.cli.add_command(his)
