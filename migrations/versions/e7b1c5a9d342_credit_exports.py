"""credit exports: what went to the city's credit platform, a record once and its repair once (issue 19)

Revision ID: e7b1c5a9d342
Revises: c71e5a9d3f28
Create Date: 2026-11-30 18:45:00.000000

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "e7b1c5a9d342"
down_revision = "c71e5a9d3f28"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "credit_exports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("line", sa.String(length=16), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["credit_records.id"], name=op.f("fk_credit_exports_record_id_credit_records")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_exports")),
        sa.UniqueConstraint("record_id", "line", name="uq_credit_exports_once"),
    )


def downgrade():
    op.drop_table("credit_exports")
