"""Migration 0011: what people were in the middle of before `prompts` existed stays open."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot import migrate
from bot.db import make_engine

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
staff = sa.table(
    "staff",
    *(sa.column(c) for c in ("id", "telegram_id", "display_name", "locale", "active")),
    sa.column("joined_at", WHEN),
)
plans = sa.table(
    "activity_plans",
    *(sa.column(c) for c in ("id", "proposer_id", "status", "version", "title", "budget_fen")),
    *(sa.column(c) for c in ("budget_period", "start_date", "end_date")),
    *(sa.column(c, sa.JSON) for c in ("answers", "fields")),
    *(sa.column(c, WHEN) for c in ("submitted_at", "created_at", "updated_at")),
)
reasons = sa.table(
    "reason_prompts",
    *(sa.column(c) for c in ("director_id", "plan_id", "version", "decision")),
    sa.column("created_at", WHEN),
)
audit = sa.table(
    "audit_log",
    sa.column("id", ID),
    sa.column("at", WHEN),
    sa.column("actor_telegram_id", ID),
    sa.column("action", sa.String),
    sa.column("target", sa.String),
    sa.column("details", sa.JSON),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("pg_database_factory")()


async def test_it_carries_open_reasons_target_values_and_channel_drafts_over(empty_url):
    engine = make_engine(empty_url)
    await migrate.upgrade(engine, "0010")
    sqlite = engine.dialect.name == "sqlite"
    now = datetime.now(UTC)

    def at(moment: datetime) -> datetime:  # SQLite keeps naive UTC, as the app stores it
        return moment.replace(tzinfo=None) if sqlite else moment

    def entry(id_, ago, telegram_id, action, target, **details) -> dict:
        return dict(id=id_, at=at(now - ago), actor_telegram_id=telegram_id, action=action,
                    target=target, details=details)  # fmt: skip

    target = {"kpi": "downloads", "staff": None, "period": "2026-12"}
    async with engine.begin() as conn:
        people = [dict(id=n, telegram_id=1000 + n, display_name=f"p{n}", locale="zh", active=True,
                       joined_at=at(now)) for n in range(1, 7)]  # fmt: skip
        await conn.execute(staff.insert(), people)
        await conn.execute(
            plans.insert(),
            [dict(id=7, proposer_id=1, status="pending", version=2, title="t", budget_fen=0,
                  budget_period="2026-12", start_date=date(2026, 12, 10),
                  end_date=date(2026, 12, 11), answers={}, fields={}, submitted_at=at(now),
                  created_at=at(now), updated_at=at(now))],
        )  # fmt: skip
        await conn.execute(
            reasons.insert(),
            [dict(director_id=1, plan_id=7, version=2, decision="rejected", created_at=at(now))],
        )
        minutes = timedelta(minutes=1)
        await conn.execute(
            audit.insert(),
            [
                # 1 owes a reason and was asked a target value too: the reason stays.
                entry(40, 5 * minutes, 1001, "kpi.target_asked", "msg:500", **target),
                # 2: an open target value (asked in message 501), and an older channel draft.
                entry(41, 10 * minutes, 1002, "channel.add_started", None, name="万科物业"),
                entry(42, 5 * minutes, 1002, "kpi.target_asked", "msg:501", **target),
                # 3: a target value saved already; a channel draft of yesterday.
                entry(43, 9 * minutes, 1003, "kpi.target_asked", "msg:502", **target),
                entry(44, 8 * minutes, 1003, "kpi.target_closed", "prompt:43", outcome="saved"),
                entry(45, timedelta(days=1), 1003, "channel.add_started", None, name="保利"),
                # 4: a target value asked two hours ago (expired); 5: a draft of 8 days ago.
                entry(46, timedelta(hours=2), 1004, "kpi.target_asked", "msg:503", **target),
                entry(47, timedelta(days=8), 1005, "channel.add_started", None, name="绿城"),
            ],
        )

    await migrate.upgrade(engine)

    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT * FROM prompts ORDER BY staff_id"))).mappings()
        found = {r["staff_id"]: dict(r) for r in rows}
        tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    assert sorted(found) == [1, 2, 3]
    reason, value, draft = found[1], found[2], found[3]
    assert (reason["kind"], reason["about"]) == ("decision_reason", "activity:7")
    assert _json(reason["details"]) == {"plan": 7, "version": 2, "decision": "rejected"}
    assert reason["expires_at"] is None
    assert (value["id"], value["kind"], value["message_id"]) == (42, "target_value", 501)
    assert _json(value["details"]) == target
    assert (draft["id"], draft["kind"], _json(draft["details"])) == (
        45,
        "channel_add",
        {"name": "保利"},
    )
    assert "reason_prompts" not in tables

    # A prompt asked from now on gets an id no carried-over one has (buttons carry ids).
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("INSERT INTO prompts (staff_id, kind, details, created_at) "
                    "VALUES (6, 'target_value', '{}', :at)").bindparams(
                sa.bindparam("at", type_=WHEN)), {"at": at(now)},
        )  # fmt: skip
        newest = await conn.scalar(sa.text("SELECT id FROM prompts WHERE staff_id = 6"))
    assert newest > 45

    await migrate.downgrade(engine, "0010")
    async with engine.connect() as conn:
        back = (
            await conn.execute(sa.text("SELECT director_id, plan_id FROM reason_prompts"))
        ).all()
    await engine.dispose()
    assert [tuple(r) for r in back] == [(1, 7)]


def _json(value):
    return json.loads(value) if isinstance(value, str) else value
