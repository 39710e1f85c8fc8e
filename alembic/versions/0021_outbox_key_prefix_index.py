"""outbox keys by prefix: an index PostgreSQL can range over (decision 67, tenth round)

A decision reads the cards it closes by their keys' prefix ("req:12:v1:card:"), as do a digest
(a report's group message) and a task (its earlier cards). `LIKE 'prefix%'` read the whole
outbox, which keeps every key it ever sent: it now grows with every message. The reads are
now a range of keys; SQLite's unique index on the key serves it as it is (its order is the
bytes'), PostgreSQL's only in the C collation, hence this index there.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 14:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('CREATE INDEX ix_outbox_dedup_key_c ON outbox (dedup_key COLLATE "C")')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_outbox_dedup_key_c")
