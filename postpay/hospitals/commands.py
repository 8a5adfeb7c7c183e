"""The ``hospital`` commands."""

import re

import click
from flask import current_app
from flask.cli import AppGroup

from postpay.cli import BadValue, Refused, at_most
from postpay.extensions import db
from postpay.hospitals.models import Hospital
from postpay.hospitals.service import upsert_hospital

#: An appid as WeChat issues them: "wx" and 16 hexadecimal digits (the development ones: other lengths and letters).
OA_APPID = re.compile(r"wx[0-9A-Za-z]{14,30}")


@click.group(cls=AppGroup)  # AppGroup: each command runs in the app context
def hospital():
    """Hospitals on the hub."""


@hospital.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--mchid", required=True, help="WeChat Pay merchant id of the hospital")
@click.option("--his-secret", required=True, help="the HIS request-signing secret")
@click.option(
    "--med-inst-no", default=None, help="定点医药机构编号 at the medical-insurance platform (kept when not given)"
)
@click.option(
    "--medins-city-id", default=None, help="the city id Tencent issues for med-ins orders (kept when not given)"
)
@click.option(
    "--oa-appid",
    default=None,
    help="appid of the hospital's own official account, bound to its sub-merchant (kept when not given; '' clears)",
)
def hospital_add(code, name, mchid, his_secret, med_inst_no, medins_city_id, oa_appid):
    """Create or update a hospital; CODE is its X-Hospital-Id."""
    at_most(32, code, "CODE"), at_most(128, name, "NAME"), at_most(32, mchid, "--mchid")  # the columns' lengths
    limits = ((32, med_inst_no, "--med-inst-no"), (16, medins_city_id, "--medins-city-id"))
    for length, value, hint in limits + ((32, oa_appid, "--oa-appid"),):
        if value is not None:
            at_most(length, value, hint)
    if oa_appid and not OA_APPID.fullmatch(oa_appid):
        raise BadValue("应为公众号的appid（wx开头的字母数字）", param_hint="'--oa-appid'")
    found, created = upsert_hospital(code, name, mchid, his_secret, med_inst_no, medins_city_id, oa_appid)
    db.session.commit()
    click.echo("%s hospital %s %s" % ("created" if created else "updated", found.code, found.name))


@hospital.command("list")
@click.option("--show-secrets", is_flag=True, help="also the HIS secrets (development only: the sandbox is on)")
def hospital_list(show_secrets):
    """Each hospital: code, name, merchant id, 定点医药机构编号 and med-ins city id."""
    if show_secrets and not current_app.config["POSTPAY_SANDBOX"]:
        raise Refused("--show-secrets is for development only (POSTPAY_SANDBOX=1); production secrets stay unseen")
    for h in Hospital.query.order_by(Hospital.code):
        fields = [h.code, h.name, "mchid=%s" % h.mchid, "med_inst_no=%s" % (h.med_inst_no or "-")]
        fields.append("medins_city_id=%s" % (h.medins_city_id or "-"))
        fields.append("oa_appid=%s" % (h.oa_appid or "-"))
        if show_secrets:
            fields.append("his_secret=%s" % h.his_secret)
        click.echo("\t".join(fields))


def init_app(app):
    app.cli.add_command(hospital)
