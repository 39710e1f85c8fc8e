"""Migrations: the models and the migrations agree; upgrade → downgrade → upgrade works."""

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot import migrate
from bot.db import make_engine
from bot.models import ActivityPlan, ApprovalRequest, Base, Prompt

pytestmark = [
    pytest.mark.databases,
    # SQLite cannot reflect the PostgreSQL-only index on a collated key (UNCOMPARED below).
    pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression"),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("pg_database_factory")()


# Alembic cannot compare an index on a collated key (it reads PostgreSQL's as a plain one and
# skips the models' as an expression): tests/test_outbox_keys.py checks that one instead.
UNCOMPARED = {"ix_outbox_dedup_key_c"}


def _diff(conn):
    def compared(found, name, kind, reflected, compare_to) -> bool:
        return not (kind == "index" and name in UNCOMPARED)

    opts = {"compare_type": True, "include_object": compared}
    return compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)


def _tables(conn):
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


async def test_it_creates_exactly_the_models_schema(empty_url):
    engine = make_engine(empty_url)
    await migrate.upgrade(engine)
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
    await engine.dispose()


async def test_it_upgrades_downgrades_and_upgrades_again(empty_url):
    engine = make_engine(empty_url)
    assert await migrate.current(engine) is None
    await migrate.upgrade(engine)
    head = await migrate.current(engine)
    assert head is not None
    await migrate.downgrade(engine, "base")
    assert await migrate.current(engine) is None
    async with engine.connect() as conn:
        assert await conn.run_sync(_tables) == set()
    await migrate.upgrade(engine)
    assert await migrate.current(engine) == head
    async with engine.connect() as conn:
        assert await conn.run_sync(_tables) == set(Base.metadata.tables)
    await engine.dispose()


async def test_upgrading_twice_is_harmless(empty_url):
    engine = make_engine(empty_url)
    await migrate.upgrade(engine)
    await migrate.upgrade(engine)
    assert await migrate.current(engine) is not None
    await engine.dispose()


async def test_it_settles_obligations_whose_report_was_filed_but_never_linked(empty_url):
    """Migration 0010 repairs what the code before decision 38 left behind."""
    engine = make_engine(empty_url)
    await migrate.upgrade(engine, "0009")
    day = "2026-11-26"
    rows = [  # (staff, obligation status, report filed at, due, closes)
        (1, "missed", f"{day} 02:00:08", f"{day} 10:00:00", "2026-11-27 04:00:00"),  # on time
        (2, "open", f"{day} 11:00:00", f"{day} 10:00:00", "2026-11-27 04:00:00"),  # late
        (3, "missed", "2026-11-27 05:00:00", f"{day} 10:00:00", "2026-11-27 04:00:00"),  # closed
        (4, "missed", None, f"{day} 10:00:00", "2026-11-27 04:00:00"),  # really missed
    ]
    async with engine.begin() as conn:
        for staff, status, filed, due, closes in rows:
            await conn.execute(
                text(
                    "INSERT INTO staff (id, telegram_id, display_name, locale, active, joined_at) "
                    "VALUES (:id, :tg, 'x', 'zh', true, :at)"
                ),
                {"id": staff, "tg": 1000 + staff, "at": _ts(f"{day} 01:00:00")},
            )
            await conn.execute(
                text(
                    "INSERT INTO obligations (id, staff_id, form_key, period_key, due_at, "
                    "closes_at, status, reminder_step, created_at) VALUES "
                    "(:id, :id, 'daily', :day, :due, :closes, :status, 2, :due)"
                ),
                {
                    "id": staff,
                    "day": day,
                    "due": _ts(due),
                    "closes": _ts(closes),
                    "status": status,
                },
            )
            if filed:
                await conn.execute(
                    text(
                        "INSERT INTO reports (staff_id, form_key, period_key, answers, fields, "
                        "version, late, filed_at, updated_at) VALUES "
                        "(:id, 'daily', :day, '{}', '{}', 1, false, :at, :at)"
                    ),
                    {"id": staff, "day": day, "at": _ts(filed)},
                )

    await migrate.upgrade(engine)

    async with engine.connect() as conn:
        status = dict((await conn.execute(text("SELECT id, status FROM obligations"))).all())
        links = dict(
            (await conn.execute(text("SELECT staff_id, obligation_id FROM reports"))).all()
        )
        late = dict((await conn.execute(text("SELECT staff_id, late FROM reports"))).all())
    await engine.dispose()
    assert status == {1: "filed", 2: "late", 3: "missed", 4: "missed"}
    assert links == {1: 1, 2: 2, 3: None}
    assert (bool(late[1]), bool(late[2])) == (False, True)


def _ts(value: str):
    return datetime.fromisoformat(value)


async def test_to_head_migrates_a_fresh_or_old_database_and_leaves_one_at_head_alone(
    empty_url, monkeypatch
):
    """startup() calls to_head: a cheap check first, a full Alembic run only when behind."""
    engine = make_engine(empty_url)
    assert not await migrate.at_head(engine)
    await migrate.to_head(engine)  # fresh: migrated
    assert await migrate.current(engine) in migrate.heads()
    await migrate.downgrade(engine, "-1")
    assert not await migrate.at_head(engine)
    await migrate.to_head(engine)  # one revision behind: migrated
    assert await migrate.at_head(engine)

    async def no_alembic_run(*_args, **_kw):
        raise AssertionError("a database at head was migrated again")

    monkeypatch.setattr(migrate, "upgrade", no_alembic_run)
    await migrate.to_head(engine)  # at head: only alembic_version is read
    await engine.dispose()


# ---- 0018: activity plans become approval requests ------------------------------------------

_T = sa.DateTime(timezone=True)
_plans = sa.table(
    "activity_plans", *(sa.column(c) for c in (
        "id", "proposer_id", "status", "version", "title", "budget_fen", "start_date", "end_date",
        "budget_period", "submitted_at", "decide_by", "decided_at", "decided_by",
        "decision_reason", "actual_cost_fen", "completed_at", "created_at", "updated_at")),
    sa.column("answers", sa.JSON()), sa.column("fields", sa.JSON()),
    sa.column("results", sa.JSON()),
)  # fmt: skip
_versions = sa.table(
    "activity_versions", sa.column("plan_id"), sa.column("version"),
    sa.column("answers", sa.JSON()), sa.column("submitted_at"),
)  # fmt: skip
_requests = sa.table(
    "approval_requests", *(sa.column(c) for c in (
        "id", "form_key", "proposer_id", "title", "status", "step", "round", "version",
        "submitted_at", "step_due_at", "decided_at", "created_at", "updated_at")),
    sa.column("answers", sa.JSON()), sa.column("fields", sa.JSON()), sa.column("steps", sa.JSON()),
)  # fmt: skip
_prompts = sa.table(
    "prompts", sa.column("staff_id"), sa.column("kind"), sa.column("about"),
    sa.column("details", sa.JSON()), sa.column("created_at"),
)  # fmt: skip
# Every status a plan can be in: (id, status, version, decided_by).
PLANS = [
    (3, "pending", 1, None),
    (4, "approved", 1, 2),
    (5, "rejected", 1, 2),
    (6, "changes_requested", 2, 2),
    (7, "withdrawn", 1, None),
    (8, "running", 1, 2),
    (9, "completed", 1, 2),
]


async def _at_0017_with_plans_and_a_request(engine) -> None:
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    async with engine.begin() as conn:
        for staff in (1, 2):
            await conn.execute(
                text(
                    "INSERT INTO staff (id, telegram_id, display_name, locale, active, joined_at) "
                    "VALUES (:id, :tg, 'x', 'zh', true, :at)"
                ),
                {"id": staff, "tg": 1000 + staff, "at": at},
            )
        for plan_id, status, version, decider in PLANS:
            await conn.execute(sa.insert(_plans).values(
                id=plan_id, proposer_id=1, status=status, version=version, title=f"plan {plan_id}",
                answers={"title": f"plan {plan_id}", "v": version}, fields={}, budget_fen=100,
                start_date=date(2026, 12, 10), end_date=date(2026, 12, 11),
                budget_period="2026-12", submitted_at=at, decide_by=at + timedelta(days=1),
                decided_at=at if decider else None, decided_by=decider,
                decision_reason="why" if status in ("rejected", "changes_requested") else None,
                results={"what_worked": "all"} if status == "completed" else None,
                actual_cost_fen=90 if status == "completed" else None,
                completed_at=at if status == "completed" else None, created_at=at, updated_at=at,
            ))  # fmt: skip
            for v in range(1, version + 1):
                await conn.execute(sa.insert(_versions).values(
                    plan_id=plan_id, version=v, answers={"v": v}, submitted_at=at
                ))  # fmt: skip
        # An expense request filed before: id 1, with everything that names it.
        await conn.execute(sa.insert(_requests).values(
            id=1, form_key="expense", proposer_id=1, title="taxi", status="pending", step=0,
            round=1, version=1, submitted_at=at, step_due_at=None, decided_at=None,
            created_at=at, updated_at=at, answers={"amount": 100}, fields={}, steps={"steps": []},
        ))  # fmt: skip
        for sql in (
            "INSERT INTO approval_rounds (request_id, round, answers, submitted_at) "
            "VALUES (1, 1, '{}', :at)",
            "INSERT INTO budget_charges (pool, period_key, amount_fen, about, staff_id, state, at)"
            " VALUES ('travel', '2026-12', 100, 'req:1', 1, 'held', :at)",
            "INSERT INTO outbox (dedup_key, chat_id, method, payload, about, status, attempts, "
            "created_at, next_attempt_at) VALUES ('req:1:v1:card:1002', 1002, 'sendMessage', "
            "'{}', 'req:1:1', 'sent', 0, :at, :at)",
            "INSERT INTO drafts (staff_id, form_key, period_key, answers, mode, cursor, scratch, "
            "version, created_at, updated_at) VALUES (1, 'expense', 'req:1', '{}', 'ask', '0', "
            "'{}', 1, :at, :at)",
            "INSERT INTO audit_log (at, actor_telegram_id, action, target, details) VALUES "
            "(:at, 1001, 'approval.submitted', 'approval:1', '{}')",
        ):
            await conn.execute(text(sql), {"at": at})
        await conn.execute(sa.insert(_prompts).values(
            staff_id=2, kind="approval_reason", about="approval:1",
            details={"req": 1, "version": 1, "decision": "reject"}, created_at=at,
        ))  # fmt: skip


async def _rows(conn, sql: str) -> list:
    return [tuple(r) for r in (await conn.execute(text(sql))).all()]


async def test_activity_plans_become_requests_with_their_ids_and_back(empty_url):
    """0018: every plan is a request with its own id, its versions rounds, its decision a row;
    the request filed before is renumbered with everything naming it; downgrade undoes it."""
    engine = make_engine(empty_url)
    await migrate.upgrade(engine, "0017")
    await _at_0017_with_plans_and_a_request(engine)
    async with engine.connect() as conn:
        plans_before = await _rows(
            conn, "SELECT id, status, version, decided_by, decision_reason, actual_cost_fen "
            "FROM activity_plans ORDER BY id",
        )  # fmt: skip

    await migrate.upgrade(engine)

    async with engine.connect() as conn:
        kinds = await _rows(
            conn, "SELECT id, form_key, status, round, version FROM approval_requests ORDER BY id"
        )
        assert kinds == [
            *[(p, "activity_plan", status, v, v) for p, status, v, _ in PLANS],
            (10, "expense", "pending", 1, 1),  # above the largest plan id
        ]
        assert await _rows(conn, "SELECT old_id, new_id FROM approval_request_ids") == [(1, 10)]
        rounds = await _rows(conn, "SELECT request_id, round FROM approval_rounds ORDER BY 1, 2")
        assert rounds == [(3, 1), (4, 1), (5, 1), (6, 1), (6, 2), (7, 1), (8, 1), (9, 1), (10, 1)]
        decisions = await _rows(
            conn, "SELECT request_id, round, decider_id, decision, comment "
            "FROM approval_decisions ORDER BY 1",
        )  # fmt: skip
        assert decisions == [
            (4, 1, 2, "approve", None), (5, 1, 2, "reject", "why"), (6, 2, 2, "changes", "why"),
            (8, 1, 2, "approve", None), (9, 1, 2, "approve", None),
        ]  # fmt: skip
        charges = await _rows(
            conn, "SELECT about, pool, amount_fen, state FROM budget_charges ORDER BY pool, about"
        )
        assert charges == [
            ("req:3", "activities", 100, "held"), ("req:4", "activities", 100, "charged"),
            ("req:8", "activities", 100, "charged"), ("req:9", "activities", 90, "charged"),
            ("req:10", "travel", 100, "held"),  # the request's, renumbered
        ]  # fmt: skip
        named = [
            await _rows(conn, "SELECT about FROM budget_charges WHERE pool = 'travel'"),
            await _rows(conn, "SELECT dedup_key, about FROM outbox"),
            await _rows(conn, "SELECT period_key FROM drafts"),
            await _rows(conn, "SELECT target FROM audit_log"),
            await _rows(conn, "SELECT about FROM prompts"),
        ]
        assert named == [
            [("req:10",)], [("req:10:v1:card:1002", "req:10:1")], [("req:10",)],
            [("approval:10",)], [("approval:10",)],
        ]  # fmt: skip
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as s:
        plan = await s.get(ActivityPlan, 9)
        assert (plan.status, plan.actual_cost_fen, plan.results) == (
            "completed",
            90,
            {"what_worked": "all"},
        )
        assert plan.decide_by == datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
        every = list(await s.scalars(select(ApprovalRequest).order_by(ApprovalRequest.id)))
        assert [type(r).__name__ for r in every] == ["ActivityPlan"] * 7 + ["ApprovalRequest"]
        prompt = await s.scalar(select(Prompt))
        assert prompt.details["req"] == 10

    await migrate.downgrade(engine, "0017")

    async with engine.connect() as conn:
        assert plans_before == await _rows(
            conn, "SELECT id, status, version, decided_by, decision_reason, actual_cost_fen "
            "FROM activity_plans ORDER BY id",
        )  # fmt: skip
        versions = await _rows(conn, "SELECT plan_id, version FROM activity_versions ORDER BY 1, 2")
        assert versions == [(3, 1), (4, 1), (5, 1), (6, 1), (6, 2), (7, 1), (8, 1), (9, 1)]
        assert await _rows(conn, "SELECT id, form_key FROM approval_requests") == [(1, "expense")]
        assert await _rows(conn, "SELECT request_id FROM approval_rounds") == [(1,)]
        assert await _rows(conn, "SELECT count(*) FROM approval_decisions") == [(0,)]
        assert await _rows(conn, "SELECT about FROM budget_charges") == [("req:1",)]
        assert await _rows(conn, "SELECT dedup_key FROM outbox") == [("req:1:v1:card:1002",)]
        assert await _rows(conn, "SELECT target FROM audit_log") == [("approval:1",)]
    await migrate.upgrade(engine)  # and up again
    await engine.dispose()


async def test_approved_and_running_plans_owe_their_results_as_follow_ups_and_back(empty_url):
    """0019: an approved or running plan gets its results follow-up (asked when its ask went
    out); the others none; downgrade removes them."""
    engine = make_engine(empty_url)
    await migrate.upgrade(engine, "0017")
    await _at_0017_with_plans_and_a_request(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO outbox (dedup_key, chat_id, method, payload, status, attempts, "
                "created_at, next_attempt_at) VALUES ('act:8:results-ask', 1001, 'sendMessage', "
                "'{}', 'sent', 0, :at, :at)"
            ),
            {"at": datetime(2026, 12, 12, 1, 0, tzinfo=UTC)},
        )
    await migrate.upgrade(engine, "0018")
    async with engine.connect() as conn:
        assert await _rows(conn, "SELECT count(*) FROM approval_followups") == [(0,)]

    await migrate.upgrade(engine)

    async with engine.connect() as conn:
        rows = await _rows(
            conn, "SELECT request_id, staff_id, kind, status FROM approval_followups ORDER BY 1"
        )
        assert rows == [(4, 1, "results", "waiting"), (8, 1, "results", "asked")]
    await migrate.downgrade(engine, "0018")
    async with engine.connect() as conn:
        assert await _rows(conn, "SELECT count(*) FROM approval_followups") == [(0,)]
    await migrate.upgrade(engine)
    await engine.dispose()
