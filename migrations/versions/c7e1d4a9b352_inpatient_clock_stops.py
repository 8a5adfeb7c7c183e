"""R14 before R18: reminders count from the bill's due time (a discharge restarts the stages) and
name the relative's binding; suspensions that only held bills caused are lifted

Revision ID: c7e1d4a9b352
Revises: c4e8a2f1d7b3
Create Date: 2026-11-30 18:40:00.000000

"""

import datetime as dt
import secrets

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "c7e1d4a9b352"
down_revision = "c4e8a2f1d7b3"
branch_labels = None
depends_on = None

LIFTED_REASON = "住院期间账单暂缓结算（R14），不计逾期：该记录由住院暂缓的账单产生，予以撤销"


def _id(prefix):
    """postpay.security.new_id as it was when this ran (a migration imports no app code)."""
    return "%s_%s" % (prefix, secrets.token_urlsafe(12).replace("-", "x").replace("_", "y"))


def upgrade():
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("binding_id", sa.String(length=32), nullable=True))
    bills = sa.table(
        "bills",
        sa.column("id", sa.String),
        sa.column("due_at", sa.DateTime(timezone=True)),
        sa.column("hold_reason", sa.String),
        sa.column("hold_since", sa.DateTime(timezone=True)),
        sa.column("in_arrears", sa.Boolean),
    )
    reminders = sa.table("reminders", sa.column("bill_id", sa.String), sa.column("due_at", sa.DateTime(timezone=True)))
    op.execute(
        reminders.update().values(
            due_at=sa.select(bills.c.due_at).where(bills.c.id == reminders.c.bill_id).scalar_subquery()
        )
    )
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.alter_column("due_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_constraint("uq_reminders_once", type_="unique")
        batch_op.create_unique_constraint("uq_reminders_once", ["bill_id", "due_at", "stage", "recipient"])
    _lift_suspensions_of_held_bills(bills)


def _lift_suspensions_of_held_bills(bills):
    """R14 before R18: an open record whose every bill was already held for an admission when the
    record was written is lifted, with a credit event saying why; its bills count again from discharge."""
    conn = op.get_bind()
    records = sa.table(
        "credit_records",
        sa.column("id", sa.String),
        sa.column("patient_id", sa.String),
        sa.column("bill_ids", sa.JSON),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("repaired_at", sa.DateTime(timezone=True)),
    )
    events = sa.table(
        "credit_events",
        sa.column("id", sa.String),
        sa.column("patient_id", sa.String),
        sa.column("record_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("detail", sa.JSON),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    now = dt.datetime.now(dt.timezone.utc)
    if conn.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC there (postpay.extensions.UTCDateTime)
    open_records = conn.execute(
        sa.select(records.c.id, records.c.patient_id, records.c.bill_ids, records.c.created_at).where(
            records.c.repaired_at.is_(None)
        )
    ).all()
    for record_id, patient_id, bill_ids, created_at in open_records:
        if not bill_ids:
            continue
        held = conn.execute(
            sa.select(bills.c.hold_since).where(bills.c.id.in_(bill_ids), bills.c.hold_reason.is_not(None))
        ).all()
        if len(held) != len(set(bill_ids)) or any(since is None or since > created_at for (since,) in held):
            continue  # some bill was overdue outside an admission: the record stands
        conn.execute(records.update().where(records.c.id == record_id).values(repaired_at=now))
        conn.execute(bills.update().where(bills.c.id.in_(bill_ids)).values(in_arrears=False))
        conn.execute(
            events.insert().values(
                id=_id("ce"),
                patient_id=patient_id,
                record_id=record_id,
                kind="lifted",
                detail={"reason": LIFTED_REASON, "bill_ids": list(bill_ids)},
                at=now,
            )
        )


def downgrade():
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_constraint("uq_reminders_once", type_="unique")
        batch_op.create_unique_constraint("uq_reminders_once", ["bill_id", "stage", "recipient"])
        batch_op.drop_column("binding_id")
        batch_op.drop_column("due_at")
