"""Migrations match the models; the demo loader is idempotent."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from postpay.accounts.models import Patient
from postpay.extensions import db
from postpay.family.models import Binding
from postpay.his.models import Hospital


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
