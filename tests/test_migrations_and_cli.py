"""Migrations match the models; the demo loader is idempotent."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from postpay.accounts.models import Patient
from postpay.extensions import db
from postpay.family.models import Binding
from postpay.hospitals.models import Hospital


def test_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_demo_load_twice_changes_nothing(app, runner):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["demo", "load"])
    assert second.output == first.output
    with app.app_context():
        assert Patient.query.filter(Patient.verified_at.isnot(None)).count() == 3
        assert Hospital.query.count() == 2 and Binding.query.count() == 1
    assert "********" in first.output


def test_demo_has_an_elder_bound_to_his_son_and_two_due_bills(app, runner):
    from postpay.billing.models import Bill, BillStatus
    from postpay.contracts.models import Contract

    runner.invoke(args=["demo", "load"])
    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0, again.output
    with app.app_context():
        assert Contract.query.count() == 1
        statuses = [b.status for b in Bill.query.order_by(Bill.visit_day)]
        assert statuses == [BillStatus.due, BillStatus.due, BillStatus.open]  # one each for README's walk-throughs


def test_his_simulator_drives_a_day_through_the_signed_api(app, runner, hospitals):
    from postpay.visits.models import Visit, VisitEvent

    out = runner.invoke(args=["his", "simulate", "--hospital", "NT01", "--visits", "6", "--date", "2026-11-20"])
    assert out.exit_code == 0, out.output
    assert "6 visits" in out.output
    with app.app_context():
        assert Visit.query.count() == 6
        assert VisitEvent.query.filter_by(type="visit_finished").count() == 6
    unknown = runner.invoke(args=["his", "simulate", "--hospital", "NOPE"])
    assert unknown.exit_code != 0 and "no hospital" in unknown.output


def test_hospital_add_sets_the_medins_codes_and_keeps_them_when_not_given(app, runner, hospitals):
    base = ["hospital", "add", "NT01", "南通市第一人民医院", "--mchid", "1900000109", "--his-secret", "his-secret-nt01"]
    out = runner.invoke(args=base + ["--med-inst-no", "H32060200009", "--medins-city-id", "320600"])
    assert out.exit_code == 0, out.output
    again = runner.invoke(args=base)  # neither option: the stored codes stay
    assert again.exit_code == 0, again.output
    with app.app_context():
        hospital = Hospital.query.filter_by(code="NT01").one()
        assert (hospital.med_inst_no, hospital.medins_city_id) == ("H32060200009", "320600")


def test_hospital_list_shows_codes_and_merchant_ids_and_secrets_only_in_development(app, runner, hospitals):
    listed = runner.invoke(args=["hospital", "list"])
    assert listed.exit_code == 0
    with app.app_context():
        for hospital in Hospital.query:
            assert "%s\t%s\tmchid=%s" % (hospital.code, hospital.name, hospital.mchid) in listed.output
            assert hospital.his_secret not in listed.output
            secret = hospital.his_secret
    shown = runner.invoke(args=["hospital", "list", "--show-secrets"])
    assert shown.exit_code == 0 and "his_secret=%s" % secret in shown.output
    app.config["POSTPAY_SANDBOX"] = False  # as in production: the sandbox is off
    refused = runner.invoke(args=["hospital", "list", "--show-secrets"])
    assert refused.exit_code == 2 and secret not in refused.output
    assert refused.output.count("\n") == 1 and "development only" in refused.output
