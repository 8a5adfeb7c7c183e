"""ledger: a micropay entry keeps its out_trade_no (issue 16: the reconciliation finds window micropay in WeChat's statement)

Revision ID: d5e2a7c41b90
Revises: c3a9f1e2d7b4
Create Date: 2026-11-30 15:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd5e2a7c41b90'
down_revision = 'c3a9f1e2d7b4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('out_trade_no', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_column('out_trade_no')
