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
    # plain ALTER TABLE on both databases: SQLite's batch mode would copy and drop ``hospitals``,
    # which other tables' foreign keys name
    op.add_column("hospitals", sa.Column("oa_appid", sa.String(32), nullable=True))
    op.add_column("payment_orders", sa.Column("appid", sa.String(32), nullable=True))
    op.add_column("payment_orders", sa.Column("sub_appid", sa.String(32), nullable=True))


def downgrade():
    for table, column in (("payment_orders", "sub_appid"), ("payment_orders", "appid"), ("hospitals", "oa_appid")):
        op.execute("ALTER TABLE %s DROP COLUMN %s" % (table, column))  # SQLite 3.35+, PostgreSQL
