"""patients.verified_by: how the insurance platform's confirmation was asked for (R8)

Revision ID: a7e3c91d5f20
Revises: b8d2f4a6c019
Create Date: 2026-11-30 18:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7e3c91d5f20'
down_revision = 'b8d2f4a6c019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_by', sa.String(length=16), nullable=True))
    # Every patient verified so far was verified through the e-voucher.
    op.execute("UPDATE patients SET verified_by = 'e_voucher' WHERE verified_at IS NOT NULL")


def downgrade():
    # Not a batch (SQLite would copy the table, and dropping the old one fails its foreign keys
    # once patients have bills): SQLite 3.35+ and PostgreSQL drop a plain column in place.
    op.execute("ALTER TABLE patients DROP COLUMN verified_by")
