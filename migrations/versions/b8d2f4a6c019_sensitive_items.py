"""sensitive items (R19): the hospital's sensitive list, an item's and a visit event's sensitive flag, a binding's share_sensitive

Revision ID: b8d2f4a6c019
Revises: a7c3e9d1f204
Create Date: 2026-11-30 16:50:00.000000

"""

from alembic import op
import sqlalchemy as sa

#: The defaults of postpay/hospitals/models.py as they were when this ran (a migration imports no app code).
DEFAULT_SENSITIVE_TERMS = [
    "HIV",
    "艾滋",
    "梅毒",
    "淋病",
    "淋球菌",
    "衣原体",
    "尖锐湿疣",
    "性病",
    "精神",
    "心理",
    "抑郁",
    "焦虑",
    "生殖",
    "产科",
    "妊娠",
    "孕",
    "人工流产",
    "流产",
    "试管",
    "不孕",
    "不育",
    "精液",
]

# revision identifiers, used by Alembic.
revision = "b8d2f4a6c019"
down_revision = "a7c3e9d1f204"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("hospitals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sensitive_terms", sa.JSON(), nullable=True))
    hospitals = sa.table("hospitals", sa.column("sensitive_terms", sa.JSON()))
    op.execute(hospitals.update().values(sensitive_terms=DEFAULT_SENSITIVE_TERMS))
    with op.batch_alter_table("hospitals", schema=None) as batch_op:
        batch_op.alter_column("sensitive_terms", existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sensitive", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("visit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sensitive", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("family_bindings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("share_sensitive", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table("family_bindings", schema=None) as batch_op:
        batch_op.drop_column("share_sensitive")
    with op.batch_alter_table("visit_events", schema=None) as batch_op:
        batch_op.drop_column("sensitive")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("sensitive")
    with op.batch_alter_table("hospitals", schema=None) as batch_op:
        batch_op.drop_column("sensitive_terms")
