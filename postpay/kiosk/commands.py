"""The ``kiosk`` commands."""

import click
from flask.cli import AppGroup

from postpay.cli import at_most, refused
from postpay.extensions import db
from postpay.kiosk.service import add_device


@click.group(cls=AppGroup)  # AppGroup: each command runs in the app context
def kiosk():
    """Self-service kiosks."""


@kiosk.command("add")
@click.argument("hospital_code")
@click.argument("device_code")
@click.option("--secret", help="the device's signing secret (default: a new random one, printed once)")
def kiosk_add(hospital_code, device_code, secret):
    """Register or re-key a kiosk; DEVICE_CODE is its X-Kiosk-Id."""
    at_most(64, device_code, "DEVICE_CODE")  # the column's length
    with refused():
        device, secret = add_device(hospital_code, device_code, secret)
    db.session.commit()
    click.echo("kiosk %s at %s secret %s" % (device.code, hospital_code, secret))


def init_app(app):
    app.cli.add_command(kiosk)
