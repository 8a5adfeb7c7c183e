"""reminders: partial index of the claimed reminders still unsent (issue 9: a sweep re-queues them)

Revision ID: c3a9f1e2d7b4
Revises: 9a03553890e1
Create Date: 2026-11-24 13:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a9f1e2d7b4'
down_revision = "9a03553890e1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index('ix_reminders_unsent', ['bill_id'], unique=False, postgresql_where=sa.text('NOT sent'), sqlite_where=sa.text('sent = 0'))


def downgrade():
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index('ix_reminders_unsent', postgresql_where=sa.text('NOT sent'), sqlite_where=sa.text('sent = 0'))
