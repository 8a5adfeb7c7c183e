"""An account may be the official account's (公众号) as well as the mini-program's: the
mini-program openid becomes optional, the official account's openid and the last app used are kept

Revision ID: a3f9c2e71d05
Revises: c7e1d4a9b352
Create Date: 2026-11-30 23:10:00.000000

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "a3f9c2e71d05"
down_revision = "c7e1d4a9b352"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.alter_column("openid", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("oa_openid", sa.String(64), nullable=True))
        batch.add_column(sa.Column("last_app", sa.String(8), nullable=True))
        batch.create_unique_constraint("uq_users_oa_openid", ["oa_openid"])
    op.execute("UPDATE users SET last_app = 'mini' WHERE openid IS NOT NULL")


def downgrade():
    op.execute("DELETE FROM users WHERE openid IS NULL")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_oa_openid", type_="unique")
        batch.drop_column("last_app")
        batch.drop_column("oa_openid")
        batch.alter_column("openid", existing_type=sa.String(64), nullable=False)
