"""Paying in the official account (公众号): a hospital may own the account (its appid, bound to its
sub-merchant), and each WeChat order keeps the appid (and sub_appid) it named

Revision ID: b8d2e4f6a1c3
Revises: a3f9c2e71d05
Create Date: 2026-11-30 23:05:00.000000

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "b8d2e4f6a1c3"
down_revision = "a3f9c2e71d05"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("hospitals") as batch:
        batch.add_column(sa.Column("oa_appid", sa.String(32), nullable=True))
    with op.batch_alter_table("payment_orders") as batch:
        batch.add_column(sa.Column("appid", sa.String(32), nullable=True))
        batch.add_column(sa.Column("sub_appid", sa.String(32), nullable=True))


def downgrade():
    with op.batch_alter_table("payment_orders") as batch:
        batch.drop_column("sub_appid")
        batch.drop_column("appid")
    with op.batch_alter_table("hospitals") as batch:
        batch.drop_column("oa_appid")
