"""`opsbot check`: one line per thing the bot needs, OK or what to fix; exit 0 unless one fails."""

import asyncio
import importlib.metadata
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot import clock
from bot.config import ConfigError, Settings

DB_TIMEOUT = 10.0
MEMBER = ("creator", "administrator", "member")


@dataclass(frozen=True)
class Result:
    """One line of the report: OK, WARN (works, but look), FAIL (fix it) or SKIP (not checked)."""

    status: str
    name: str
    text: str

    @property
    def failed(self) -> bool:
        """WARN does not fail the check; SKIP only follows a FAIL it depends on."""
        return self.status == "FAIL"

    def line(self) -> str:
        """`OK   database: …`."""
        return f"{self.status:<5}{self.name}: {self.text}"


def ok(name: str, text: str) -> Result:
    """A passing line."""
    return Result("OK", name, text)


def fail(name: str, text: str) -> Result:
    """A failing line; the text says what to fix."""
    return Result("FAIL", name, text)


async def run(settings: Settings, config_file: str | None = None) -> list[Result]:
    """Every check, in the order an operator would fix things."""
    results = [check_config(settings, config_file)]
    database, group = await check_database(settings)
    results.append(database)
    results += await check_telegram(settings, group)
    results += check_calendar(settings, clock.now().astimezone(settings.team.tz).date())
    results.append(check_font())
    return results


def check_config(settings: Settings, config_file: str | None) -> Result:
    """The settings loaded (a broken file never gets here: it stops with exit 2)."""
    path = config_file or os.environ.get("OPSBOT_CONFIG")
    if path is None and Path("opsbot.toml").is_file():
        path = "opsbot.toml"
    where = str(Path(path).resolve()) if path else "no file, defaults and OPSBOT_* variables"
    tg = settings.telegram
    return ok("config", f"{where}; telegram.mode {tg.mode}; team zone {settings.team.timezone}")


class _Unread:
    """The bound group could not be read (the database failed)."""


Bound = int | _Unread | None  # the bound group's chat id, as far as the database could tell


async def check_database(settings: Settings) -> tuple[Result, Bound]:
    """The database answers and is at Alembic's head; also returns the bound group's id."""
    from sqlalchemy.engine import make_url

    from bot.cli.backup import sqlite_file
    from bot.db import make_engine

    url = settings.database.url
    shown = make_url(url).render_as_string(hide_password=True)
    path = sqlite_file(url)
    if path is not None and not path.is_file():  # connecting would create an empty file
        return fail(
            "database",
            f"no SQLite file at {path.resolve()} — check database.url "
            "(OPSBOT_DATABASE__URL); `opsbot db upgrade` or `opsbot run` creates it",
        ), _Unread()
    engine = make_engine(url)
    try:
        async with asyncio.timeout(DB_TIMEOUT):
            revision, group = await _revision_and_group(engine)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return fail(
            "database",
            f"{shown} does not answer ({reason}) — check database.url (OPSBOT_DATABASE__URL) "
            "and that the database server runs",
        ), _Unread()
    finally:
        await engine.dispose()
    return _revision_result(
        shown, revision
    ), settings.team.group_chat_id if group is None else group


async def _revision_and_group(engine) -> tuple[str | None, int | None]:
    from sqlalchemy import select

    from bot import migrate
    from bot.models import Team
    from bot.services.team import TEAM_ID

    revision = await migrate.current(engine)
    if revision is None:
        return None, None
    async with engine.connect() as conn:
        return revision, await conn.scalar(select(Team.group_chat_id).where(Team.id == TEAM_ID))


def _revision_result(shown: str, revision: str | None) -> Result:
    from alembic.script import ScriptDirectory

    from bot.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    if revision == head:
        return ok("database", f"{shown} at head {head}")
    if revision is None:
        return fail("database", f"{shown} is empty (head is {head}) — run `opsbot db upgrade`")
    if revision not in {s.revision for s in script.walk_revisions()}:
        return fail(
            "database",
            f"{shown} is at {revision}, which this opsbot does not know (its head is {head}): "
            "a newer opsbot migrated it — run that version",
        )
    return fail(
        "database",
        f"{shown} is at {revision}, head is {head} — run `opsbot db upgrade` "
        "(`opsbot run` also upgrades at start)",
    )


async def check_telegram(settings: Settings, group: Bound) -> list[Result]:
    """Telegram answers getMe through the configured route; then the webhook and the group."""
    from bot import connect

    try:
        bot = connect.bot(settings)
    except ConfigError as exc:  # no token
        return [fail("telegram", str(exc)), *_skipped("no token")]
    route = connect.route(settings.telegram)
    try:
        await connect.initialize(route, bot, bot.initialize())  # getMe
    except connect.Unreachable as exc:
        return [fail("telegram", str(exc)), *_skipped("Telegram did not answer")]
    except ConfigError as exc:  # the token
        return [fail("telegram", str(exc)), *_skipped("Telegram refused the token")]
    try:
        me = ok("telegram", f"@{bot.username} (id {bot.id}) at {route.describe()}")
        return [me, await _safely("webhook", check_webhook(bot, settings)),
                await _safely("group", check_group(bot, group))]  # fmt: skip
    finally:
        await bot.shutdown()


def _skipped(why: str) -> list[Result]:
    return [Result("SKIP", "webhook", f"not checked: {why}"),
            Result("SKIP", "group", f"not checked: {why}")]  # fmt: skip


async def _safely(name: str, check) -> Result:
    from telegram.error import TelegramError

    try:
        return await check
    except TelegramError as exc:
        return fail(name, f"Telegram answered: {exc} — run `opsbot check` again")


async def check_webhook(bot, settings: Settings) -> Result:
    """getWebhookInfo against telegram.mode: polling wants none, webhook mode wants ours."""
    tg = settings.telegram
    info = await bot.get_webhook_info()
    if tg.mode == "polling":
        if info.url:
            return fail(
                "webhook",
                f"Telegram has a webhook set to {info.url}, but telegram.mode is polling "
                "(polling would refuse to start) — run `opsbot webhook delete`, or set "
                'telegram.mode = "webhook"',
            )
        return ok("webhook", "none set (polling mode)")
    if not info.url:
        return fail(
            "webhook",
            f"none is set, but telegram.mode is webhook — `opsbot run` sets it to "
            f"{tg.webhook_url} at start; if the bot runs, it did not start properly",
        )
    if info.url != tg.webhook_url:
        return fail(
            "webhook",
            f"Telegram posts updates to {info.url}, not telegram.webhook_url {tg.webhook_url} "
            "— another deployment set it? Restart this one (`opsbot run` sets it) or fix "
            "telegram.webhook_url",
        )
    text = f"set to {info.url}, {info.pending_update_count} update(s) pending"
    if info.last_error_date:
        text += f"; last delivery error {info.last_error_date:%Y-%m-%d %H:%M %Z}: "
        text += str(info.last_error_message)
    return ok("webhook", text)


async def check_group(bot, group: Bound) -> Result:
    """The bound team group: Telegram knows it and the bot is still a member."""
    from telegram.error import BadRequest, ChatMigrated, Forbidden

    if isinstance(group, _Unread):
        return Result("SKIP", "group", "not checked: the database did not answer")
    bind = "add the bot to the team group and send /bind there as a director"
    if group is None:
        return fail("group", f"no team group is bound — {bind}")
    try:
        chat = await bot.get_chat(group)
        member = await bot.get_chat_member(group, bot.id)
    except ChatMigrated as exc:
        return fail(
            "group",
            f"group {group} became supergroup {exc.new_chat_id}; the bot follows it when it "
            f"sees the change — send /bind in the group if digests stop",
        )
    except (BadRequest, Forbidden) as exc:
        return fail("group", f"group {group}: Telegram answered {exc.message!r} — {bind}")
    title = f"{chat.title or group} ({group})"
    if member.status in MEMBER or getattr(member, "is_member", False):
        return ok("group", f"{title}, the bot is {member.status}")
    return fail("group", f"the bot is no longer in {title} (status {member.status}) — {bind}")


def check_calendar(settings: Settings, today: date) -> list[Result]:
    """This year and next are in chinesecalendar, or covered by [calendar] in the config.

    The current year on the weekday fallback FAILS (reminders and KPIs are already wrong on
    its lunar holidays); next year only WARNS, as its schedule is published late in the year.
    """
    from bot.calendar import WorkCalendar

    cal_cfg = settings.calendar
    cal = WorkCalendar(cal_cfg.extra_holidays, cal_cfg.extra_workdays)
    version = importlib.metadata.version("chinesecalendar")
    results = []
    for year in (today.year, today.year + 1):
        if not cal.is_fallback_year(year):
            results.append(ok("calendar", f"{year}: statutory holidays and make-up days known"))
            continue
        off = sum(d.year == year for d in cal_cfg.extra_holidays)
        on = sum(d.year == year for d in cal_cfg.extra_workdays)
        if off or on:
            text = f"{year}: not in chinesecalendar {version}; Monday–Friday with the "
            text += f"{off} holiday(s) and {on} make-up workday(s) from [calendar] in the config"
            results.append(ok("calendar", text))
            continue
        status = "FAIL" if year == today.year else "WARN"
        results.append(Result(status, "calendar", (
            f"{year}: not in chinesecalendar {version}, so the fallback is used (Monday–Friday "
            "minus 1 Jan, 1 May and 1–3 Oct: lunar holidays and make-up workdays are missed) — "
            f"once {year}'s schedule is published, list its days in opsbot.toml: [calendar] "
            f"extra_holidays = [{year}-02-16, …], extra_workdays = [{year}-02-07, …] (or upgrade "
            "chinesecalendar)"
        )))  # fmt: skip
    return results


def check_font() -> Result:
    """The chart font is installed (found without importing matplotlib)."""
    from bot.charts import cjk_font_path

    try:
        return ok("chart font", str(cjk_font_path()))
    except RuntimeError as exc:
        return fail("chart font", str(exc))
