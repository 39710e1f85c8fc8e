"""`opsbot jobs run tick --at …` (one tick, delivered) and `opsbot jobs due` (one, rolled back)."""

import html
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock, migrate
from bot.app import build_application, shutdown, startup
from bot.calendar import WorkCalendar
from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.models import ActivityPlan, Obligation, Outbox, Staff
from bot.services import reminders, team
from bot.state import AppState
from jobs.tick import TickReport, enqueue_due, tick

STEPS = {reminders.GENTLE: "before-due", reminders.OVERDUE: "overdue",
         reminders.NEXT_DAY: "next-morning"}  # fmt: skip
FIRST_LINE_CHARS = 80


async def run_tick_once(settings: Settings, at: datetime | None) -> TickReport:
    """Start the app without polling, run one tick at `at`, send what it enqueued, stop."""
    if at is not None:
        clock.start_at(at)
    app = build_application(settings)
    await app.initialize()
    try:
        await startup(app)
        return await tick(app.bot_data, app.bot)
    finally:
        await shutdown(app)
        await app.shutdown()


async def list_due(settings: Settings, at: datetime | None) -> list[str]:
    """What a tick at `at` would do: the tick's own code, in one transaction rolled back.

    No Bot exists here, so nothing can reach Telegram; ValueError when the schema is not current.
    """
    if at is not None:
        clock.start_at(at)
    engine = make_engine(settings.database.url)
    try:
        await _require_current_schema(engine)
        cal = WorkCalendar(settings.calendar.extra_holidays, settings.calendar.extra_workdays)
        state = AppState(settings=settings, engine=engine, calendar=cal,
                         sessions=make_sessionmaker(engine))  # fmt: skip
        async with state.sessions() as session:
            try:
                return await _dry_run(session, state, clock.now())
            finally:
                await session.rollback()
    finally:
        await engine.dispose()


async def _require_current_schema(engine) -> None:
    # A dry run must not change anything, the schema included: say what to run instead.
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    current = await migrate.current(engine)
    if current != head:
        raise ValueError(
            f"the database is at schema {current or 'base (empty)'}, not {head}: "
            "run `opsbot db upgrade` (or start the bot) first"
        )


async def _dry_run(session: AsyncSession, state: AppState, at: datetime) -> list[str]:
    if session.bind.dialect.name == "sqlite":
        # pysqlite starts a transaction only before a write, and SQLite commits a RELEASE of an
        # outermost SAVEPOINT: begin explicitly so every savepoint below is inside it.
        await session.execute(text("BEGIN"))
    await team.ensure(session, state.settings.team)  # as the bot does when it starts
    before = await _Snapshot.take(session)

    @asynccontextmanager
    async def step():
        # Each of the tick's transactions becomes a savepoint: a part that fails is undone
        # and the rest goes on, as in the tick; the whole is rolled back by the caller.
        async with session.begin_nested():
            yield session

    await enqueue_due(state, at, step)
    lines = [f"tick at {at.astimezone(state.settings.team.tz):%Y-%m-%d %H:%M} "
             "(dry run: nothing saved, nothing sent):"]  # fmt: skip
    cfg = state.settings.reminders
    if reminders.quiet(at, state.settings.team.tz, cfg):
        lines.append(f"quiet hours ({cfg.quiet_start}–{cfg.quiet_end}): private reminders wait")
    found = await _describe(session, state.settings, before)
    return lines + (found or ["nothing is due"])


@dataclass(frozen=True)
class _Snapshot:
    """What the tick may change, read before it runs."""

    last_outbox: int
    last_obligation: int
    open_obligations: frozenset[int]
    plans: dict[int, tuple]

    @classmethod
    async def take(cls, session: AsyncSession) -> "_Snapshot":
        open_ids = await session.scalars(select(Obligation.id).where(Obligation.status == "open"))
        return cls(
            last_outbox=await _max_id(session, Outbox.id),
            last_obligation=await _max_id(session, Obligation.id),
            open_obligations=frozenset(open_ids),
            plans=await _plans(session),
        )


async def _max_id(session: AsyncSession, column) -> int:
    return (await session.scalar(select(column).order_by(column.desc()).limit(1))) or 0


async def _plans(session: AsyncSession) -> dict[int, tuple]:
    rows = await session.execute(
        select(ActivityPlan.id, ActivityPlan.title, ActivityPlan.status, ActivityPlan.decide_by)
    )
    return {row.id: tuple(row) for row in rows}


async def _describe(session: AsyncSession, settings: Settings, before: _Snapshot) -> list[str]:
    names = {row.id: row for row in await session.execute(select(Staff.id, Staff.telegram_id,
                                                                 Staff.display_name))}  # fmt: skip
    by_chat = {row.telegram_id: row for row in names.values()}
    group = (await team.get(session)).group_chat_id
    describe = _Words(settings, names, by_chat, group)
    lines = await _obligation_lines(session, before, describe)
    outbox = await session.scalars(
        select(Outbox).where(Outbox.id > before.last_outbox).order_by(Outbox.id)
    )
    lines += [describe.message(row) for row in outbox]
    return lines + _plan_lines(before.plans, await _plans(session), settings)


async def _obligation_lines(session: AsyncSession, before: _Snapshot, words) -> list[str]:
    columns = (Obligation.id, Obligation.staff_id, Obligation.form_key, Obligation.period_key,
               Obligation.due_at, Obligation.status)  # fmt: skip
    created = await session.execute(
        select(*columns).where(Obligation.id > before.last_obligation).order_by(Obligation.id)
    )
    lines = [f"create obligation {words.obligation(row)}, due {words.local(row.due_at)}"
             for row in created]  # fmt: skip
    was_open = await session.execute(
        select(*columns)
        .where(Obligation.id <= before.last_obligation, Obligation.status != "open")
        .order_by(Obligation.id)
    )
    return lines + [
        f"close as {row.status} {words.obligation(row)}"
        for row in was_open
        if row.id in before.open_obligations
    ]


def _plan_lines(before: dict[int, tuple], after: dict[int, tuple], settings) -> list[str]:
    lines = []
    for plan_id, (_, title, status, decide_by) in after.items():
        old = before.get(plan_id)
        if old is None:
            continue
        if status != old[2]:
            lines.append(f"activity plan #{plan_id} “{title}”: {old[2]} → {status}")
        if decide_by != old[3] and decide_by is not None:
            local = decide_by.astimezone(settings.team.tz)
            lines.append(f"activity plan #{plan_id} “{title}”: decide by {local:%Y-%m-%d %H:%M}")
    return lines


class _Words:
    """Outbox rows and obligations as one readable line each."""

    def __init__(self, settings: Settings, staff: dict, by_chat: dict, group: int | None) -> None:
        self.settings, self.staff, self.by_chat, self.group = settings, staff, by_chat, group

    def local(self, moment: datetime) -> str:
        return f"{moment.astimezone(self.settings.team.tz):%Y-%m-%d %H:%M}"

    def form(self, key: str) -> str:
        form = self.settings.reports.form(key)
        return key if form is None else form.name.get(self.settings.team.locale)

    def person(self, staff_id: int) -> str:
        row = self.staff.get(staff_id)
        return f"staff #{staff_id}" if row is None else f"{row.display_name} ({row.telegram_id})"

    def chat(self, chat_id: int) -> str:
        if chat_id == self.group:
            return f"team group ({chat_id})"
        row = self.by_chat.get(chat_id)
        return str(chat_id) if row is None else f"{row.display_name} ({chat_id})"

    def obligation(self, row) -> str:
        return f"{self.person(row.staff_id)}: {self.form(row.form_key)} {row.period_key}"

    def message(self, row: Outbox) -> str:
        """One queued message: what it is, to whom, and its first line."""
        parts = row.dedup_key.split(":")
        first = _first_line(row)
        if parts[0] == "nag" and len(parts) == 5:
            step = STEPS.get(int(parts[4]), parts[4])
            return (f"remind {self.chat(row.chat_id)}: {self.form(parts[2])} {parts[3]} — "
                    f"{step} step: {first}")  # fmt: skip
        if parts[0] == "digest":
            what = " ".join(parts[1:3] + parts[3:4])  # kind, period, then chart/scores
            return f"digest {what} → {self.chat(row.chat_id)}: {first}"
        kind = {"approvals": "approval reminder", "escalate": "escalation",
                "calendar": "calendar notice", "act": "activity message"}  # fmt: skip
        return f"{kind.get(parts[0], row.method)} → {self.chat(row.chat_id)}: {first}"


def _first_line(row: Outbox) -> str:
    if row.method == "sendPhoto" and not row.payload.get("text"):
        return "(an image)"
    plain = html.unescape(re.sub(r"<[^>]+>", "", row.payload.get("text") or ""))
    line = next((part.strip() for part in plain.splitlines() if part.strip()), "")
    return line if len(line) <= FIRST_LINE_CHARS else line[: FIRST_LINE_CHARS - 1] + "…"
