"""prompts: what the bot waits for from a person, in one table

A director's pending reason (reason_prompts), a pending /target value (kpi.target_asked audit
entries not yet followed by kpi.target_closed) and a half-added channel (channel.add_started
audit entries) become rows of `prompts`, at most one per person (docs/decisions.md 44). What is
open on upgrade is carried over: target values and channel drafts keep their ids, which the
buttons already sent carry. A person with more than one open keeps the one a typed message
reached first before (a reason, then the newest target value, then the newest channel draft).
reason_prompts is dropped; the audit entries stay, as history.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 18:20:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The lifetimes the code had when these were audit entries (services/prompts.py keeps them).
TARGET_TTL = timedelta(hours=1)
CHANNEL_TTL = timedelta(days=7)
MOVE_SEQUENCE_ON = "SELECT setval(pg_get_serial_sequence('prompts', 'id'), max(id)) FROM prompts"

audit_log = sa.table(
    "audit_log",
    sa.column("id", ID),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor_telegram_id", ID),
    sa.column("action", sa.String),
    sa.column("target", sa.String),
    sa.column("details", sa.JSON),
)
reason_prompts = sa.table(
    "reason_prompts",
    sa.column("id", ID),
    sa.column("director_id", ID),
    sa.column("plan_id", ID),
    sa.column("version", ID),
    sa.column("decision", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
staff = sa.table("staff", sa.column("id", ID), sa.column("telegram_id", ID))
prompts = sa.table(
    "prompts",
    sa.column("id", ID),
    sa.column("staff_id", ID),
    sa.column("kind", sa.String),
    sa.column("about", sa.String),
    sa.column("details", sa.JSON),
    sa.column("message_id", ID),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "prompts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("staff_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("about", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("message_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_prompts_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompts")),
        sa.UniqueConstraint("staff_id", name=op.f("uq_prompts_staff_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("prompts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prompts_about"), ["about"], unique=False)
    _carry_over(op.get_bind())
    op.drop_table("reason_prompts")


def _carry_over(conn: sa.Connection) -> None:
    now = datetime.now(UTC)
    chosen: dict[int, dict] = {}  # staff id -> the prompt kept; the first one offered wins
    for row in conn.execute(sa.select(reason_prompts).order_by(reason_prompts.c.id)).mappings():
        chosen.setdefault(row["director_id"], _reason(row))
    for row in _open_entries(conn, "kpi.target_asked", now - TARGET_TTL):
        if not _target_closed(conn, row.id):
            chosen.setdefault(row.staff_id, _target(row))
    for row in _open_entries(conn, "channel.add_started", now - CHANNEL_TTL):
        chosen.setdefault(row.staff_id, _channel(row))
    kept = list(chosen.values())
    sqlite = conn.dialect.name == "sqlite"
    for prompt in kept:
        for key in ("created_at", "expires_at"):
            if sqlite and prompt[key] is not None:  # stored as naive UTC there, as the app does
                prompt[key] = prompt[key].replace(tzinfo=None)
    # Target values and channel drafts keep their ids (buttons carry them); reasons get new ones.
    with_ids = [p for p in kept if "id" in p]
    if with_ids:
        conn.execute(prompts.insert(), with_ids)
        if not sqlite:  # an explicit id does not move PostgreSQL's sequence on
            conn.execute(sa.text(MOVE_SEQUENCE_ON))
    for prompt in kept:
        if "id" not in prompt:
            conn.execute(prompts.insert().values(**prompt))


def _open_entries(conn: sa.Connection, action: str, since: datetime):
    """The audit entries of `action` since `since`, newest first, with the actor's staff id."""
    if conn.dialect.name == "sqlite":
        since = since.replace(tzinfo=None)
    query = (
        sa.select(audit_log, staff.c.id.label("staff_id"))
        .join(staff, staff.c.telegram_id == audit_log.c.actor_telegram_id)
        .where(audit_log.c.action == action, audit_log.c.at >= since)
        .order_by(audit_log.c.id.desc())
    )
    return conn.execute(query).all()


def _target_closed(conn: sa.Connection, entry_id: int) -> bool:
    closing = sa.select(audit_log.c.id).where(
        audit_log.c.action == "kpi.target_closed", audit_log.c.target == f"prompt:{entry_id}"
    )
    return conn.execute(closing.limit(1)).first() is not None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _reason(row) -> dict:
    details = {"plan": row["plan_id"], "version": row["version"], "decision": row["decision"]}
    return dict(
        staff_id=row["director_id"],
        kind="decision_reason",
        about=f"activity:{row['plan_id']}",
        details=details,
        message_id=None,
        created_at=_aware(row["created_at"]),
        expires_at=None,
    )


def _target(row) -> dict:
    asked = _aware(row.at)
    message = (row.target or "").removeprefix("msg:")
    return dict(
        id=row.id,
        staff_id=row.staff_id,
        kind="target_value",
        about=None,
        details=dict(row.details),
        message_id=int(message) if message.isdecimal() else None,
        created_at=asked,
        expires_at=asked + TARGET_TTL,
    )


def _channel(row) -> dict:
    started = _aware(row.at)
    return dict(
        id=row.id,
        staff_id=row.staff_id,
        kind="channel_add",
        about=None,
        details={"name": row.details["name"]},
        message_id=None,
        created_at=started,
        expires_at=started + CHANNEL_TTL,
    )


def downgrade() -> None:
    op.create_table(
        "reason_prompts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("director_id", ID, nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("version", ID, nullable=False),
        sa.Column("decision", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["director_id"],
            ["staff.id"],
            name=op.f("fk_reason_prompts_director_id_staff"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["activity_plans.id"],
            name=op.f("fk_reason_prompts_plan_id_activity_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reason_prompts")),
        sa.UniqueConstraint("director_id", name=op.f("uq_reason_prompts_director_id")),
    )
    # Reasons go back. Target values and channel drafts are not written back: the old code reads
    # its audit entries again, which still say what was open when this version took over.
    conn = op.get_bind()
    reasons = conn.execute(sa.select(prompts).where(prompts.c.kind == "decision_reason")).mappings()
    for row in reasons:
        conn.execute(
            sa.text(
                "INSERT INTO reason_prompts (director_id, plan_id, version, decision, created_at) "
                "SELECT :staff, :plan, :version, :decision, :at "
                "WHERE EXISTS (SELECT 1 FROM activity_plans WHERE id = :plan)"
            ).bindparams(sa.bindparam("at", type_=sa.DateTime(timezone=True))),
            {
                "staff": row["staff_id"],
                "plan": row["details"]["plan"],
                "version": row["details"]["version"],
                "decision": row["details"]["decision"],
                "at": row["created_at"],
            },
        )
    with op.batch_alter_table("prompts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prompts_about"))
    op.drop_table("prompts")
