"""budget pools: budgets belong to a pool (activities …); budget_charges hold or charge requests

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
# Every budget set before pools existed was the activity budget.
ACTIVITIES = "activities"


def upgrade() -> None:
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pool", sa.String(length=20), nullable=False, server_default=ACTIVITIES)
        )
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.alter_column("pool", server_default=None)
        batch_op.drop_constraint("pk_budgets", type_="primary")
        batch_op.create_primary_key("pk_budgets", ["pool", "period_key"])
    op.create_table(
        "budget_charges",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("pool", sa.String(length=20), nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", ID, nullable=False),
        sa.Column("about", sa.String(length=64), nullable=False),
        sa.Column("staff_id", ID, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_budget_charges_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_charges")),
        sa.UniqueConstraint("about", name=op.f("uq_budget_charges_about")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("budget_charges", schema=None) as batch_op:
        batch_op.create_index("ix_budget_charges_pool_period_key", ["pool", "period_key"])


def downgrade() -> None:
    op.drop_table("budget_charges")
    # Only the activity budget existed before pools: the other pools' amounts are dropped.
    op.execute(sa.text("DELETE FROM budgets WHERE pool <> :pool").bindparams(pool=ACTIVITIES))
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_constraint("pk_budgets", type_="primary")
        batch_op.create_primary_key("pk_budgets", ["period_key"])
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_column("pool")
