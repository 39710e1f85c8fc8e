"""roster version: one number database triggers raise on every change that can make someone owe
a report or need their dashboard menu button, so the minute tick looks for people without their
obligations or button only when it moved (decision 67, fifth round)

Triggers and not the code that writes: replicas, the CLI and any future writer change the
roster, and a trigger cannot be forgotten by one of them. The changes: a person added, or their
`active`, `joined_at` or `locale` changed (the button is in their language); a role added,
changed or removed; a leave added, changed or removed (someone away on a due day owes nothing,
so a cancelled leave makes them owe); an obligation row removed or moved to another person, form
or period.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# An upsert, not an UPDATE: the row comes back if something ever empties the table (the
# tests' TRUNCATE), and the tick reads no row as "unknown, look" (bot/services/roster_version.py).
BUMP = (
    "INSERT INTO roster_version (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = roster_version.version + 1"
)
# PostgreSQL raises it once per transaction: what matters is that the number differs once the
# transaction commits, and a bulk import raised it 20,000 times (4 s for 10,000 people). A row
# this transaction (not a savepoint of it) already raised has its id as xmin.
BUMP_ONCE = f"{BUMP} WHERE roster_version.xmin <> pg_current_xact_id()::xid"
# (name, event, table, condition on OLD and NEW for a row trigger, or None: any row)
TRIGGERS = (
    ("roster_staff_added", "INSERT", "staff", None),
    ("roster_staff_changed", "UPDATE OF active, joined_at, locale", "staff",
     "OLD.active {ne} NEW.active OR OLD.joined_at {ne} NEW.joined_at "
     "OR OLD.locale {ne} NEW.locale"),
    ("roster_roles_added", "INSERT", "staff_roles", None),
    ("roster_roles_changed", "UPDATE", "staff_roles", None),
    ("roster_roles_removed", "DELETE", "staff_roles", None),
    ("roster_leaves_added", "INSERT", "leaves", None),
    ("roster_leaves_changed", "UPDATE", "leaves", None),
    ("roster_leaves_removed", "DELETE", "leaves", None),
    ("roster_obligations_removed", "DELETE", "obligations", None),
    ("roster_obligations_moved", "UPDATE OF staff_id, form_key, period_key", "obligations",
     "OLD.staff_id {ne} NEW.staff_id OR OLD.form_key {ne} NEW.form_key "
     "OR OLD.period_key {ne} NEW.period_key"),
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "roster_version",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("version", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_version")),
    )
    op.execute("INSERT INTO roster_version (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION roster_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {BUMP_ONCE}; RETURN NULL; END $$"
        )
        for name, event, table, condition in TRIGGERS:
            # A bulk INSERT or DELETE raises the number once (a statement trigger); an UPDATE
            # only when a column that matters really changed (a row trigger with WHEN).
            each = "STATEMENT" if condition is None else "ROW"
            when = "" if condition is None else f" WHEN ({condition.format(ne='IS DISTINCT FROM')})"
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH {each}{when} "
                "EXECUTE FUNCTION roster_changed()"
            )
        return
    for name, event, table, condition in TRIGGERS:  # SQLite has row triggers only
        when = "" if condition is None else f" WHEN {condition.format(ne='IS NOT')}"
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} BEGIN {BUMP}; END"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, _event, table, _condition in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}" if postgresql else f"DROP TRIGGER {name}")
    if postgresql:
        op.execute("DROP FUNCTION roster_changed()")
    op.drop_table("roster_version")
