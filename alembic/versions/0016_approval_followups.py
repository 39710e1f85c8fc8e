"""approval follow-ups: the published link, content figures and research results owed after approval

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approval_followups",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("request_id", ID, nullable=False),
        sa.Column("staff_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_at", WHEN, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("asked_at", WHEN, nullable=True),
        sa.Column("done_at", WHEN, nullable=True),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["approval_requests.id"],
            name=op.f("fk_approval_followups_request_id_approval_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_approval_followups_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_followups")),
        sa.UniqueConstraint("request_id", "kind", name=op.f("uq_approval_followups_request_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("approval_followups", schema=None) as batch_op:
        batch_op.create_index("ix_approval_followups_status_due_at", ["status", "due_at"])
        batch_op.create_index(
            batch_op.f("ix_approval_followups_staff_id"), ["staff_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("approval_followups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_followups_staff_id"))
        batch_op.drop_index("ix_approval_followups_status_due_at")
    op.drop_table("approval_followups")
