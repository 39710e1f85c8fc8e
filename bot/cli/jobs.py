"""`opsbot jobs run tick --at …` (one tick, delivered) and `opsbot jobs due` (one, rolled back)."""

import html
import re
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import text

from bot import clock, migrate
from bot.app import build_application, shutdown, startup
from bot.calendar import WorkCalendar
from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.services import reminders, team, tick_changes
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
    """What a tick at `at` would do, one line each: the tick's own code, rolled back.

    No Bot exists here, so nothing can reach Telegram; ValueError when the schema is not current.
    """
    if at is not None:
        clock.start_at(at)
    at = clock.now()
    engine = make_engine(settings.database.url)
    try:
        await _require_current_schema(engine)
        cal = WorkCalendar(settings.calendar.extra_holidays, settings.calendar.extra_workdays)
        state = AppState(settings=settings, engine=engine, calendar=cal,
                         sessions=make_sessionmaker(engine))  # fmt: skip
        changes = await dry_run(state, at)
    finally:
        await engine.dispose()
    lines = [f"tick at {at.astimezone(settings.team.tz):%Y-%m-%d %H:%M} "
             "(dry run: nothing saved, nothing sent):"]  # fmt: skip
    cfg = settings.reminders
    if reminders.quiet(at, settings.team.tz, cfg):
        lines.append(f"quiet hours ({cfg.quiet_start}–{cfg.quiet_end}): private reminders wait")
    return lines + (_describe(changes, settings) or ["nothing is due"])


async def dry_run(state: AppState, at: datetime) -> tick_changes.Changes:
    """Run the tick's `enqueue_due` at `at` in one transaction, read what it changed, roll back."""
    async with state.sessions() as session:
        try:
            if session.bind.dialect.name == "sqlite":
                # pysqlite starts a transaction only before a write, and SQLite commits a RELEASE
                # of an outermost SAVEPOINT: begin explicitly so every savepoint is inside it.
                await session.execute(text("BEGIN"))
            await team.ensure(session, state.settings.team)  # as the bot does when it starts
            before = await tick_changes.snapshot(session)

            @asynccontextmanager
            async def step():
                # Each of the tick's transactions becomes a savepoint: a part that fails is
                # undone and the rest goes on, as in the tick; the whole is rolled back below.
                async with session.begin_nested():
                    yield session

            await enqueue_due(state, at, step)
            return await tick_changes.since(session, before)
        finally:
            await session.rollback()


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


def _describe(changes: tick_changes.Changes, settings: Settings) -> list[str]:
    words = _Words(settings, changes.people, changes.group)
    lines = [f"create obligation {words.obligation(row)}, due {words.local(row.due_at)}"
             for row in changes.created]  # fmt: skip
    lines += [f"close as {row.status} {words.obligation(row)}" for row in changes.closed]
    lines += [words.message(row) for row in changes.messages]
    return lines + [line for plan in changes.plans for line in _plan_lines(plan, settings)]


def _plan_lines(plan: tick_changes.PlanChange, settings: Settings) -> list[str]:
    lines = []
    if plan.status != plan.old_status:
        lines.append(f"activity plan #{plan.id} “{plan.title}”: {plan.old_status} → {plan.status}")
    if plan.decide_by is not None:
        local = plan.decide_by.astimezone(settings.team.tz)
        lines.append(f"activity plan #{plan.id} “{plan.title}”: decide by {local:%Y-%m-%d %H:%M}")
    return lines


class _Words:
    """Outbox rows and obligations as one readable line each."""

    def __init__(self, settings: Settings, staff: dict, group: int | None) -> None:
        self.settings, self.staff, self.group = settings, staff, group
        self.by_chat = {row.telegram_id: row for row in staff.values()}

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

    def message(self, row) -> str:
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
                "calendar": "calendar notice", "act": "activity message",
                "tasknag": "task reminder"}  # fmt: skip
        return f"{kind.get(parts[0], row.method)} → {self.chat(row.chat_id)}: {first}"


def _first_line(row) -> str:
    if row.method == "sendPhoto" and not row.payload.get("text"):
        return "(an image)"
    plain = html.unescape(re.sub(r"<[^>]+>", "", row.payload.get("text") or ""))
    line = next((part.strip() for part in plain.splitlines() if part.strip()), "")
    return line if len(line) <= FIRST_LINE_CHARS else line[: FIRST_LINE_CHARS - 1] + "…"
