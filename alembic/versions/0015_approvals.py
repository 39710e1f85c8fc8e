"""approvals: filings of any form decided in configured steps, their decisions and rounds

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("form_key", sa.String(length=32), nullable=False),
        sa.Column("proposer_id", ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("step", ID, nullable=False),
        sa.Column("round", ID, nullable=False),
        sa.Column("version", ID, nullable=False),
        sa.Column("submitted_at", WHEN, nullable=False),
        sa.Column("step_due_at", WHEN, nullable=True),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["proposer_id"], ["staff.id"], name=op.f("fk_approval_requests_proposer_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_requests")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.create_index("ix_approval_requests_status", ["status"])
        batch_op.create_index("ix_approval_requests_proposer_id", ["proposer_id"])
    op.create_table(
        "approval_decisions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("request_id", ID, nullable=False),
        sa.Column("round", ID, nullable=False),
        sa.Column("step", ID, nullable=False),
        sa.Column("decider_id", ID, nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["decider_id"], ["staff.id"], name=op.f("fk_approval_decisions_decider_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["approval_requests.id"],
            name=op.f("fk_approval_decisions_request_id_approval_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_decisions")),
    )
    with op.batch_alter_table("approval_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_approval_decisions_request_id"), ["request_id"], unique=False
        )
    op.create_table(
        "approval_rounds",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("request_id", ID, nullable=False),
        sa.Column("round", ID, nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("submitted_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["approval_requests.id"],
            name=op.f("fk_approval_rounds_request_id_approval_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_rounds")),
        sa.UniqueConstraint("request_id", "round", name=op.f("uq_approval_rounds_request_id")),
    )


def downgrade() -> None:
    op.drop_table("approval_rounds")
    with op.batch_alter_table("approval_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_decisions_request_id"))
    op.drop_table("approval_decisions")
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_approval_requests_proposer_id")
        batch_op.drop_index("ix_approval_requests_status")
    op.drop_table("approval_requests")
