"""micropay attempts: a window micropay is recorded before WeChat is called; one whose reverse failed stays unknown (issue 16)

Revision ID: f1a7c3d9e2b6
Revises: d5e2a7c41b90
Create Date: 2026-11-30 15:40:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "f1a7c3d9e2b6"
down_revision = "d5e2a7c41b90"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "micropay_attempts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("bill_id", sa.String(length=32), nullable=False),
        sa.Column("out_trade_no", sa.String(length=32), nullable=False),
        sa.Column("mchid", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "paying", "paid", "failed", "reversed", "unknown", name="micropaystatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_micropay_attempts_amount_positive")),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"], name=op.f("fk_micropay_attempts_bill_id_bills")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_micropay_attempts")),
        sa.UniqueConstraint("out_trade_no", name=op.f("uq_micropay_attempts_out_trade_no")),
    )
    with op.batch_alter_table("micropay_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_micropay_attempts_bill_status", ["bill_id", "status"], unique=False)


def downgrade():
    with op.batch_alter_table("micropay_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_micropay_attempts_bill_status")
    op.drop_table("micropay_attempts")
