"""medins identity and hospital codes (issue 17): a hospital's 定点医药机构编号 and Tencent city id; a patient's psnNo and payAuthNo with its expiry

Revision ID: a7c3e9d1f204
Revises: f1a7c3d9e2b6
Create Date: 2026-11-30 16:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a7c3e9d1f204"
down_revision = "f1a7c3d9e2b6"  # after the micropay attempts (merged beside it)
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("hospitals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("med_inst_no", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("medins_city_id", sa.String(length=16), nullable=True))
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("psn_no", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("pay_auth_no", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("pay_auth_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("pay_auth_expires_at")
        batch_op.drop_column("pay_auth_no")
        batch_op.drop_column("psn_no")
    with op.batch_alter_table("hospitals", schema=None) as batch_op:
        batch_op.drop_column("medins_city_id")
        batch_op.drop_column("med_inst_no")
