"""settlement feed and receipts (issue 18): per-hospital numbered entries for every payment and refund, the counter behind them, and a bill's fiscal e-receipt

Revision ID: c71e5a9d3f28
Revises: a7e3c91d5f20
Create Date: 2026-11-30 18:40:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c71e5a9d3f28"
down_revision = "a7e3c91d5f20"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "settlement_counters",
        sa.Column("hospital_id", sa.String(length=32), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_settlement_counters_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("hospital_id", name=op.f("pk_settlement_counters")),
    )
    op.create_table(
        "settlement_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("hospital_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("bill_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("cash_fen", sa.BigInteger(), nullable=False),
        sa.Column("fund_fen", sa.BigInteger(), nullable=False),
        sa.Column("account_fen", sa.BigInteger(), nullable=False),
        sa.Column("transaction_ids", sa.JSON(), nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=True),
        sa.Column("refund_id", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"], name=op.f("fk_settlement_entries_bill_id_bills")),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_settlement_entries_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_settlement_entries_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_entries")),
        sa.UniqueConstraint("hospital_id", "seq", name="uq_settlement_entries_seq"),
    )
    with op.batch_alter_table("settlement_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settlement_entries_bill_id"), ["bill_id"], unique=False)
    op.create_table(
        "bill_receipts",
        sa.Column("bill_id", sa.String(length=32), nullable=False),
        sa.Column("receipt_no", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"], name=op.f("fk_bill_receipts_bill_id_bills")),
        sa.PrimaryKeyConstraint("bill_id", name=op.f("pk_bill_receipts")),
    )


def downgrade():
    op.drop_table("bill_receipts")
    with op.batch_alter_table("settlement_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_entries_bill_id"))
    op.drop_table("settlement_entries")
    op.drop_table("settlement_counters")
