"""The one place that assembles the bot: PTB, database, calendar, handlers and jobs."""

import asyncio
import logging
import signal
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import BotCommand, BotCommandScopeDefault
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults

import handlers
import jobs
from bot import connect, metrics, migrate, sender, sqlite_onehop
from bot.calendar import WorkCalendar
from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.i18n import LOCALES
from bot.kpis.spec import source_problem
from bot.launch import gc_resume
from bot.marks import marks_for
from bot.ordering import ChatOrder
from bot.pacing import ChatPacer
from bot.services import menu, team
from bot.state import AppState, BotContext

log = logging.getLogger(__name__)

# What Telegram sends us, in polling and webhook mode alike.
# edited_message: an edit changes nothing, and the person is told so (decision 23).
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


class OpsApplication(Application):
    """PTB's Application, counting and timing every update for /metrics (any mode, tests too),
    its SQLite statements run in the loop's thread where they cannot wait (sqlite_onehop)."""

    async def process_update(self, update: object) -> None:
        with metrics.handling(update), sqlite_onehop.inline_here():
            await super().process_update(update)


def _order(settings: Settings) -> ChatOrder:
    """PostgreSQL: chats at once, each chat in order. SQLite, one writer: one update at a time
    (decision 67: concurrent writers queued in the process kept an outage from being seen)."""
    if settings.database.url.startswith("sqlite"):
        return ChatOrder(max_concurrent_updates=1)
    return ChatOrder()


def build_application(
    settings: Settings, *, engine: AsyncEngine | None = None, paced: bool = True
) -> Application:
    """Assemble the Application; the database opens in post_init and closes in post_shutdown.

    `paced=False` leaves out the rate limiter: only for tests against a simulator whose flood
    limits are off (the limiter has its own tests; decision 47)."""
    route = connect.route(settings.telegram)  # the proxy, if any, for every call (decision 36)
    builder = ApplicationBuilder()
    if paced:
        builder = builder.rate_limiter(rate_limiter(per_chat=settings.telegram.pace_per_chat))
    app = (
        builder.application_class(OpsApplication)
        .concurrent_updates(_order(settings))
        .token(settings.require_token())
        .base_url(settings.telegram.base_url)
        .request(connect.request(route))
        .get_updates_request(connect.WatchedRequest(route, connect.Episodes(route, "polling")))
        .base_file_url(settings.telegram.base_file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.team.tz))
        .context_types(ContextTypes(context=BotContext, bot_data=AppState))
        .post_init(startup)
        .post_shutdown(shutdown)
        .build()
    )
    state: AppState = app.bot_data
    state.settings = settings
    state.engine = engine
    state.calendar = WorkCalendar(
        settings.calendar.extra_holidays, settings.calendar.extra_workdays
    )
    handlers.register(app)
    jobs.register(app)
    return app


def rate_limiter(per_chat: bool = True) -> ChatPacer:
    """The limiter every Bot API call goes through (decision 43): smooth 30/s overall, each chat
    paced (a private chat about 1/s after a burst of 3, a group 20/min), one call in flight per
    chat, nothing sent to a chat inside its retry_after. Replies wait a little for their chat;
    the outbox never waits, it leaves a chat that is not ready for a later pass."""
    return ChatPacer(per_chat=per_chat)


async def startup(app: Application) -> None:
    """Open the database, migrate to head, seed the team, set the default command menus."""
    gc_resume()  # the collector, paused while opsbot loaded (bot/launch.py)
    state: AppState = app.bot_data
    if state.engine is None:
        state.engine = make_engine(state.settings.database.url)
    await migrate.to_head(state.engine)  # a cheap check first: no Alembic run when at head
    state.sessions = make_sessionmaker(state.engine)
    if isinstance(app.bot.rate_limiter, ChatPacer):  # a 429 to a reply holds the outbox too
        app.bot.rate_limiter.on_hold = partial(sender.record_hold, state.sessions)
    async with state.sessions() as session, session.begin():
        await team.ensure(session, state.settings.team)
    state.bot_username = app.bot.username
    _warn_about_kpi_sources(state.settings)
    await _default_menus(app)


def _warn_about_kpi_sources(settings) -> None:
    # Not fatal: old reports still carry the figures, and the rest of the KPIs work (docs/kpi.md).
    for spec in settings.kpi.kpis:
        problem = source_problem(spec, settings.reports)
        if problem:
            log.warning("kpi %s: its source %s is not in the report forms any more; it is shown "
                        "but not scored — fix [kpi] in opsbot.toml", spec.key, problem)  # fmt: skip


async def _default_menus(app: Application) -> None:
    for locale in LOCALES:
        commands = [BotCommand(c, d) for c, d in menu.described(menu.PUBLIC_COMMANDS, locale)]
        # Telegram picks the menu by the user's app language; Chinese is the team's default.
        language = None if locale == app.bot_data.settings.team.locale else locale
        await app.bot.set_my_commands(commands, BotCommandScopeDefault(), language_code=language)


async def shutdown(app: Application) -> None:
    """Close the database."""
    state: AppState = app.bot_data
    if state.sessions is not None:  # the marks of messages sent last wait for no transaction
        await marks_for(state.sessions).close()
    if state.engine is not None:
        await state.engine.dispose()


class PollingStopped(Exception):
    """Polling cannot start or go on; the message says why and what to do."""

    def __init__(self, message: str, exit_code: int, *, logged: bool = False) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.logged = logged  # a Conflict is logged as an ERROR when it happens


async def poll(app: Application) -> None:
    """Run the bot by long polling until SIGINT or SIGTERM.

    Unlike PTB's run_polling, it stops rather than fights (raising PollingStopped): over a
    webhook someone set, which run_polling would delete silently, and over a 409 Conflict
    (another process polling the same token), which run_polling would retry for ever while
    the two took turns losing updates.
    """
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    conflict: list[str] = []
    route = connect.route(app.bot_data.settings.telegram)

    def on_polling_error(exc: TelegramError) -> None:  # the Updater's callback: not a coroutine
        if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
            pass  # logged once per episode by the getUpdates request (connect.WatchedRequest)
        elif not isinstance(exc, Conflict):
            log.warning("polling for updates failed, retrying: %s", exc)
        elif not conflict:
            conflict.append(_conflict_message(exc))
            log.error("%s", conflict[0])
            stopping.set()

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stopping.set)
    try:
        # getMe: one line if Telegram does not answer
        await connect.initialize(route, app.bot, app.initialize())
        try:
            with connect.starting(route):
                info = await app.bot.get_webhook_info()
            if info.url:  # before migrations, menus or the first getUpdates
                raise PollingStopped(
                    f"a webhook is set to {info.url} — this bot is in polling mode; delete it "
                    'with `opsbot webhook delete` or set telegram.mode = "webhook"',
                    exit_code=2,
                )
            try:
                with connect.starting(route):
                    await startup(app)
                await app.updater.start_polling(
                    allowed_updates=ALLOWED_UPDATES, error_callback=on_polling_error
                )
                await app.start()
                _log_running(app, "polling")
                await stopping.wait()
            finally:
                if app.updater.running:
                    await app.updater.stop()
                if app.running:
                    await app.stop()
                await shutdown(app)
        finally:
            await app.shutdown()
    except connect.Unreachable as exc:  # exit code 1: systemd tries again (2 would not)
        raise PollingStopped(str(exc), exit_code=1) from None
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    if conflict:
        raise PollingStopped(conflict[0], exit_code=1, logged=True)


def _log_running(app: Application, how: str) -> None:
    """One line once the bot is up: who it is, how it gets updates, where it keeps its data."""
    note = app.bot_data.extras.get("started_note", "")
    log.warning("opsbot running as @%s (%s); %s", app.bot.username, how, note)


def _conflict_message(exc: Conflict) -> str:
    if "webhook" in exc.message.lower():
        return (
            "a webhook was set for this bot while it was polling (a process in webhook mode?); "
            "run one mode per bot token: `opsbot webhook delete`, or switch to webhook mode"
        )
    # Telegram ends the older long poll when a newer one comes; the process stopping here
    # sends one last getUpdates (PTB confirms what it fetched), which ends the other's poll in
    # turn: both stop, rather than each serving half the updates. Keep one and start it again.
    return (
        "only one polling process may run per bot token; use webhook mode for several replicas "
        f"(Telegram: {exc.message})"
    )
