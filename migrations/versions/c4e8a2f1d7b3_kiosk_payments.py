"""kiosk payments (issue 19, part 5): a payment may be a kiosk's (no payer account), a native order's
code_url, and a micropay attempt may stand for a kiosk payment's bills

Revision ID: c4e8a2f1d7b3
Revises: fe294d75bd33
Create Date: 2026-11-30 18:30:00.000000

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "c4e8a2f1d7b3"
down_revision = "fe294d75bd33"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.alter_column("payer_user_id", existing_type=sa.String(length=32), nullable=True)
        batch_op.add_column(sa.Column("kiosk_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("code_url", sa.String(length=128), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_payments_kiosk_id_kiosk_devices"), "kiosk_devices", ["kiosk_id"], ["id"]
        )
    with op.batch_alter_table("micropay_attempts", schema=None) as batch_op:
        batch_op.alter_column("bill_id", existing_type=sa.String(length=32), nullable=True)
        batch_op.add_column(sa.Column("payment_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_micropay_attempts_payment_id_payments"), "payments", ["payment_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_micropay_attempts_payment_id"), ["payment_id"], unique=False)
        batch_op.create_check_constraint(
            batch_op.f("ck_micropay_attempts_bill_or_payment"), "(bill_id IS NULL) <> (payment_id IS NULL)"
        )


def downgrade():
    op.execute("DELETE FROM micropay_attempts WHERE payment_id IS NOT NULL")
    with op.batch_alter_table("micropay_attempts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_micropay_attempts_bill_or_payment"), type_="check")
        batch_op.drop_index(batch_op.f("ix_micropay_attempts_payment_id"))
        batch_op.drop_constraint(batch_op.f("fk_micropay_attempts_payment_id_payments"), type_="foreignkey")
        batch_op.drop_column("payment_id")
        batch_op.alter_column("bill_id", existing_type=sa.String(length=32), nullable=False)
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_payments_kiosk_id_kiosk_devices"), type_="foreignkey")
        batch_op.drop_column("code_url")
        batch_op.drop_column("kiosk_id")
        batch_op.alter_column("payer_user_id", existing_type=sa.String(length=32), nullable=False)
