"""tasks: work assigned with a deadline (交办事项), and every step of it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("assigner_id", ID, nullable=False),
        sa.Column("assignee_id", ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("deadline", WHEN, nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("version", ID, nullable=False),
        sa.Column("asked_deadline", WHEN, nullable=True),
        sa.Column("done_note", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("done_at", WHEN, nullable=True),
        sa.Column("accepted_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["staff.id"], name=op.f("fk_tasks_assignee_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["assigner_id"], ["staff.id"], name=op.f("fk_tasks_assigner_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_assignee_id_status", ["assignee_id", "status"])
        batch_op.create_index("ix_tasks_assigner_id_status", ["assigner_id", "status"])
    op.create_table(
        "task_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("version", ID, nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["staff.id"],
            name=op.f("fk_task_events_actor_id_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_events_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_events")),
    )
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_events_task_id"), ["task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_events_task_id"))
    op.drop_table("task_events")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_assigner_id_status")
        batch_op.drop_index("ix_tasks_assignee_id_status")
    op.drop_table("tasks")
