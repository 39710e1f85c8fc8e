"""plan results as follow-ups: an approved or running plan owes its results through
`approval_followups`, as every approved request does (decision 65)

Until now a plan's results were owed while it ran past its end date (activity_results read the
plans); since then the engine's follow-up row is that state. Every approved or running plan
gets its results row: asked already when its ask went out (the outbox holds it), else waiting
for the tick to date it (the day after its end date).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 02:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FORM = "activity_plan"
requests = sa.table(
    "approval_requests", sa.column("id"), sa.column("form_key"), sa.column("proposer_id"),
    sa.column("status"),
)  # fmt: skip
followups = sa.table(
    "approval_followups", sa.column("id"), sa.column("request_id"), sa.column("staff_id"),
    sa.column("kind"), sa.column("due_at"), sa.column("status"), sa.column("asked_at"),
    sa.column("created_at"),
)  # fmt: skip
outbox = sa.table("outbox", sa.column("dedup_key"), sa.column("created_at"))


def upgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    owing = bind.execute(
        sa.select(requests.c.id, requests.c.proposer_id)
        .where(requests.c.form_key == FORM, requests.c.status.in_(("approved", "running")))
        .order_by(requests.c.id)
    ).all()
    for plan_id, proposer_id in owing:
        if bind.execute(
            sa.select(followups.c.id).where(
                followups.c.request_id == plan_id, followups.c.kind == "results"
            )
        ).first():
            continue
        asked = bind.execute(
            sa.select(outbox.c.created_at).where(outbox.c.dedup_key == f"act:{plan_id}:results-ask")
        ).scalar()
        bind.execute(
            sa.insert(followups).values(
                request_id=plan_id, staff_id=proposer_id, kind="results", due_at=asked,
                status="asked" if asked else "waiting", asked_at=asked, created_at=now,
            )
        )  # fmt: skip


def downgrade() -> None:
    plans = sa.select(requests.c.id).where(requests.c.form_key == FORM)
    op.execute(
        sa.delete(followups).where(followups.c.kind == "results", followups.c.request_id.in_(plans))
    )
