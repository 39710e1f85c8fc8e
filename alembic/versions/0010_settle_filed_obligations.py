"""settle obligations whose report was filed but never linked

Before decision 38 a report filed before the tick created its obligation (a new person's first
day, a draft begun before the tick) was stored without it: the obligation stayed open, was
nagged, and closed as missed. Those obligations become filed or late as of the report's first
filing, and each report is linked, so timeliness KPIs and /team stop counting them as missed.
A missed obligation is repaired only when its report came before it closed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SAME_PERIOD = (
    "r.staff_id = obligations.staff_id AND r.form_key = obligations.form_key "
    "AND r.period_key = obligations.period_key"
)
FILED_AT = f"(SELECT r.filed_at FROM reports r WHERE {SAME_PERIOD})"
ITS_OBLIGATION = (
    "o.staff_id = reports.staff_id AND o.form_key = reports.form_key "
    "AND o.period_key = reports.period_key"
)


def upgrade() -> None:
    op.execute(
        sa.text(
            f"UPDATE obligations SET "
            f"status = CASE WHEN {FILED_AT} > due_at THEN 'late' ELSE 'filed' END, "
            f"filed_at = {FILED_AT} "
            f"WHERE (status = 'open' OR (status = 'missed' AND {FILED_AT} <= closes_at)) "
            f"AND EXISTS (SELECT 1 FROM reports r WHERE {SAME_PERIOD})"
        )
    )
    op.execute(
        sa.text(
            f"UPDATE reports SET "
            f"obligation_id = (SELECT o.id FROM obligations o WHERE {ITS_OBLIGATION}), "
            f"late = (SELECT o.status = 'late' FROM obligations o WHERE {ITS_OBLIGATION}) "
            f"WHERE obligation_id IS NULL "
            f"AND EXISTS (SELECT 1 FROM obligations o WHERE {ITS_OBLIGATION} "
            f"AND o.status IN ('filed', 'late'))"
        )
    )


def downgrade() -> None:
    # Nothing to undo: the rows are correct under every schema version.
    pass
