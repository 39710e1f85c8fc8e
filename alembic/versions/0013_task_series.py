"""task_series: recurring tasks (/assign … 每周一 10:00), one task per occurrence

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "task_series",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("assigner_id", ID, nullable=False),
        sa.Column("assignee_id", ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("version", ID, nullable=False),
        sa.Column("next_on", sa.Date(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["staff.id"], name=op.f("fk_task_series_assignee_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["assigner_id"], ["staff.id"], name=op.f("fk_task_series_assigner_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_series")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("task_series", schema=None) as batch_op:
        batch_op.create_index("ix_task_series_status_next_on", ["status", "next_on"])
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_id", ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_tasks_series_id_task_series"), "task_series", ["series_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_tasks_series_id"), ["series_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_series_id"))
        batch_op.drop_constraint(batch_op.f("fk_tasks_series_id_task_series"), type_="foreignkey")
        batch_op.drop_column("series_id")
    with op.batch_alter_table("task_series", schema=None) as batch_op:
        batch_op.drop_index("ix_task_series_status_next_on")
    op.drop_table("task_series")
