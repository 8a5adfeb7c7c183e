"""The ``hospital`` commands."""

import click
from flask.cli import AppGroup

from postpay.cli import at_most
from postpay.extensions import db
from postpay.hospitals.service import upsert_hospital


@click.group(cls=AppGroup)  # AppGroup: each command runs in the app context
def hospital():
    """Hospitals on the hub."""


@hospital.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--mchid", required=True, help="WeChat Pay merchant id of the hospital")
@click.option("--his-secret", required=True, help="the HIS request-signing secret")
def hospital_add(code, name, mchid, his_secret):
    """Create or update a hospital; CODE is its X-Hospital-Id."""
    at_most(32, code, "CODE"), at_most(128, name, "NAME"), at_most(32, mchid, "--mchid")  # the columns' lengths
    found, created = upsert_hospital(code, name, mchid, his_secret)
    db.session.commit()
    click.echo("%s hospital %s %s" % ("created" if created else "updated", found.code, found.name))


def init_app(app):
    app.cli.add_command(hospital)
