"""activity plans on requests: a plan is an approval request with a row of its own

Joined inheritance (decision 65): every plan gets an `approval_requests` row with its own id
(form_key "activity_plan"), its versions become the request's rounds, a decided plan's decision a
row of `approval_decisions`; `activity_plans` keeps what only a plan has. Plan ids ride in months
of cards, reports and audit rows, so they are kept: the requests already filed (weeks old, few)
are renumbered above every id in use, their references rewritten, and `approval_request_ids`
remembers old -> new so a press on an old card still finds its request.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
FORM = "activity_plan"
# What a plan's request keeps as its steps (bot/models.py ACTIVITY_STEPS as of this revision).
STEPS = {
    "form": {"zh": "活动方案", "en": "Activity plan"},
    "steps": [{"who": "directors", "name": {"zh": "董事", "en": "Directors"}}],
    "leads": {},
    "after": {"announce": "group"},
    "approval": {"style": "approval"},
    "budget": None,
}
# The columns a plan shares with its request, moved to approval_requests.
SHARED = (
    ("proposer_id", ID),
    ("status", sa.String(length=24)),
    ("version", ID),
    ("title", sa.String(length=200)),
    ("answers", sa.JSON()),
    ("fields", sa.JSON()),
    ("submitted_at", WHEN),
    ("decide_by", WHEN),
    ("decided_at", WHEN),
    ("created_at", WHEN),
    ("updated_at", WHEN),
)
REQUIRED = {"proposer_id", "status", "version", "title", "answers", "fields", "submitted_at",
            "created_at", "updated_at"}  # fmt: skip
REQUEST_COLUMNS = ("form_key", "proposer_id", "title", "answers", "fields", "steps", "status",
                   "step", "round", "version", "submitted_at", "step_due_at", "decided_at",
                   "created_at", "updated_at")  # fmt: skip
# What a plan costs its pool: a completed plan's actual cost when known, else its budget.
COST = (
    "CASE WHEN status = 'completed' AND actual_cost_fen IS NOT NULL THEN actual_cost_fen "
    "ELSE budget_fen END"
)
CHILDREN = ("approval_decisions", "approval_rounds", "approval_followups")

requests = sa.table("approval_requests", sa.column("form_key"), sa.column("steps", sa.JSON()))
prompts = sa.table("prompts", sa.column("id"), sa.column("about"), sa.column("details", sa.JSON()))


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.create_table(
        "approval_request_ids",
        sa.Column("old_id", ID, autoincrement=False, nullable=False),
        sa.Column("new_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("old_id", name=op.f("pk_approval_request_ids")),
    )
    top_plan = bind.scalar(sa.text("SELECT MAX(id) FROM activity_plans")) or 0
    top_request = bind.scalar(sa.text("SELECT MAX(id) FROM approval_requests")) or 0
    olds = list(bind.scalars(sa.text("SELECT id FROM approval_requests ORDER BY id")))
    if top_plan:  # no plan: no id is wanted twice
        base = max(top_plan, top_request)
        for n, old in enumerate(olds, start=1):
            _renumber(bind, old, base + n)
            bind.execute(
                sa.text("INSERT INTO approval_request_ids (old_id, new_id) VALUES (:o, :n)"),
                {"o": old, "n": base + n},
            )
    # One step (0); the round is the plan's version, and so is the request's version.
    bind.execute(
        sa.text(
            "INSERT INTO approval_requests (id, form_key, proposer_id, title, answers, fields, "
            "steps, status, step, round, version, submitted_at, step_due_at, decided_at, "
            f"created_at, updated_at) SELECT id, '{FORM}', proposer_id, title, answers, fields, "
            "'{}', status, 0, "
            "version, version, submitted_at, decide_by, decided_at, created_at, updated_at "
            "FROM activity_plans"
        )
    )
    bind.execute(sa.update(requests).where(requests.c.form_key == FORM).values(steps=STEPS))
    bind.execute(
        sa.text(
            "INSERT INTO approval_rounds (request_id, round, answers, submitted_at) "
            "SELECT plan_id, version, answers, submitted_at FROM activity_versions"
        )
    )
    bind.execute(
        sa.text(
            "INSERT INTO approval_decisions (request_id, round, step, decider_id, decision, "
            "comment, at) SELECT id, version, 0, decided_by, CASE status "
            "WHEN 'rejected' THEN 'reject' WHEN 'changes_requested' THEN 'changes' "
            "ELSE 'approve' END, decision_reason, COALESCE(decided_at, updated_at) "
            "FROM activity_plans WHERE decided_by IS NOT NULL AND status IN "
            "('approved', 'rejected', 'changes_requested', 'running', 'completed')"
        )
    )
    # The activities pool reads budget_charges like every pool: a plan's money follows its
    # status (bot/services/budgets.py plan_charge), a completed plan's at its actual cost.
    bind.execute(
        sa.text(
            "INSERT INTO budget_charges (pool, period_key, amount_fen, about, staff_id, state, at) "
            f"SELECT 'activities', budget_period, {COST}, 'req:' || CAST(id AS VARCHAR(20)), "
            "proposer_id, CASE status WHEN 'pending' THEN 'held' ELSE 'charged' END, updated_at "
            "FROM activity_plans WHERE status IN ('pending', 'approved', 'running', 'completed') "
            f"AND {COST} > 0"
        )
    )
    if postgres:  # the plan's id is its request's now: no sequence of its own
        op.execute("ALTER TABLE activity_plans ALTER COLUMN id DROP DEFAULT")
        op.execute("DROP SEQUENCE IF EXISTS activity_plans_id_seq")
        _follow_sequence(bind)
    with op.batch_alter_table("activity_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_plans_status")
        batch_op.drop_constraint("fk_activity_plans_proposer_id_staff", type_="foreignkey")
        for column, _ in SHARED:
            batch_op.drop_column(column)
        batch_op.create_foreign_key(
            batch_op.f("fk_activity_plans_id_approval_requests"),
            "approval_requests",
            ["id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.drop_table("activity_versions")


def downgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    with op.batch_alter_table("activity_plans", schema=None) as batch_op:
        for column, kind in SHARED:
            batch_op.add_column(sa.Column(column, kind, nullable=True))
    for column, _ in SHARED:
        source = {"version": "round", "decide_by": "step_due_at"}.get(column, column)
        bind.execute(
            sa.text(
                f"UPDATE activity_plans SET {column} = (SELECT a.{source} FROM approval_requests a"
                " WHERE a.id = activity_plans.id)"
            )
        )
    with op.batch_alter_table("activity_plans", schema=None) as batch_op:
        for column, kind in SHARED:
            if column in REQUIRED:
                batch_op.alter_column(column, existing_type=kind, nullable=False)
        batch_op.drop_constraint("fk_activity_plans_id_approval_requests", type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_activity_plans_proposer_id_staff"), "staff", ["proposer_id"], ["id"]
        )
        batch_op.create_index("ix_activity_plans_status", ["status"], unique=False)
    if postgres:
        op.execute("CREATE SEQUENCE activity_plans_id_seq OWNED BY activity_plans.id")
        op.execute(
            "ALTER TABLE activity_plans ALTER COLUMN id "
            "SET DEFAULT nextval('activity_plans_id_seq')"
        )
        op.execute(
            "SELECT setval('activity_plans_id_seq', COALESCE((SELECT MAX(id) FROM activity_plans)"
            ", 0) + 1, false)"
        )
    # Only now: SQLite's batch mode rebuilds activity_plans, and dropping the old table would
    # cascade to the versions.
    op.create_table(
        "activity_versions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("version", ID, nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("submitted_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["activity_plans.id"],
            name=op.f("fk_activity_versions_plan_id_activity_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_versions")),
        sa.UniqueConstraint("plan_id", "version", name=op.f("uq_activity_versions_plan_id")),
    )
    bind.execute(
        sa.text(
            "INSERT INTO activity_versions (plan_id, version, answers, submitted_at) "
            "SELECT r.request_id, r.round, r.answers, r.submitted_at FROM approval_rounds r "
            "JOIN activity_plans p ON p.id = r.request_id ORDER BY r.request_id, r.round"
        )
    )
    plans = f"SELECT id FROM approval_requests WHERE form_key = '{FORM}'"
    for table in CHILDREN:
        bind.execute(sa.text(f"DELETE FROM {table} WHERE request_id IN ({plans})"))
    for plan_id in list(bind.scalars(sa.text(plans))):
        bind.execute(
            sa.text("DELETE FROM budget_charges WHERE about = :a"), {"a": f"req:{plan_id}"}
        )
    bind.execute(sa.text(f"DELETE FROM approval_requests WHERE form_key = '{FORM}'"))
    moved = bind.execute(sa.text("SELECT old_id, new_id FROM approval_request_ids ORDER BY old_id"))
    for old, new in list(moved):
        _renumber(bind, new, old)
    op.drop_table("approval_request_ids")
    if postgres:
        _follow_sequence(bind)


def _renumber(bind, old: int, new: int) -> None:
    """Give request `old` the id `new`, with everything that names it."""
    columns = ", ".join(REQUEST_COLUMNS)
    bind.execute(
        sa.text(
            f"INSERT INTO approval_requests (id, {columns}) "
            f"SELECT :new, {columns} FROM approval_requests WHERE id = :old"
        ),
        {"old": old, "new": new},
    )
    for table in CHILDREN:
        bind.execute(
            sa.text(f"UPDATE {table} SET request_id = :new WHERE request_id = :old"),
            {"old": old, "new": new},
        )
    bind.execute(sa.text("DELETE FROM approval_requests WHERE id = :old"), {"old": old})
    swaps = (("budget_charges", "about"), ("drafts", "period_key"), ("audit_log", "target"))
    for table, column in swaps:
        for prefix in ("req:", "approval:"):
            bind.execute(
                sa.text(f"UPDATE {table} SET {column} = :new WHERE {column} = :old"),
                {"old": f"{prefix}{old}", "new": f"{prefix}{new}"},
            )
    # Open and sent messages: their keys (later edits name them) and what they are about.
    rows = bind.execute(
        sa.text(
            "SELECT id, dedup_key, about FROM outbox WHERE dedup_key LIKE :p OR about LIKE :p "
            "OR about = :exact"
        ),
        {"p": f"req:{old}:%", "exact": f"req:{old}"},
    )
    for row_id, key, about in list(rows):
        bind.execute(
            sa.text("UPDATE outbox SET dedup_key = :k, about = :a WHERE id = :i"),
            {"i": row_id, "k": _moved(key, old, new), "a": _moved(about, old, new)},
        )
    asked = bind.execute(
        sa.select(prompts.c.id, prompts.c.details).where(prompts.c.about == f"approval:{old}")
    )
    for prompt_id, details in list(asked):
        details = dict(details or {})
        if details.get("req") == old:
            details["req"] = new
        bind.execute(
            sa.update(prompts)
            .where(prompts.c.id == prompt_id)
            .values(about=f"approval:{new}", details=details)
        )


def _moved(value: str | None, old: int, new: int) -> str | None:
    if value is not None and (value == f"req:{old}" or value.startswith(f"req:{old}:")):
        return f"req:{new}" + value[len(f"req:{old}") :]
    return value


def _follow_sequence(bind) -> None:
    """PostgreSQL: the next request id follows the largest one (ids were given explicitly)."""
    bind.execute(
        sa.text(
            "SELECT setval(pg_get_serial_sequence('approval_requests', 'id'), "
            "COALESCE((SELECT MAX(id) FROM approval_requests), 0) + 1, false)"
        )
    )
