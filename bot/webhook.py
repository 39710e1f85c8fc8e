"""Webhook mode: an ASGI app (Telegram's updates, /healthz, /metrics) served by uvicorn."""

import asyncio
import contextlib
import hmac
import json
import logging
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import uvicorn
from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Bot, Update
from telegram.error import NetworkError, TelegramError
from telegram.ext import Application

from bot import clock, connect, metrics
from bot.app import ALLOWED_UPDATES, shutdown, startup
from bot.config import Settings
from bot.models import Outbox
from bot.sender import deliver
from bot.state import AppState
from bot.states import UNSENT
from bot.telegram_io import TelegramTransport

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The tick runs every minute; three missed in a row means the scheduler (or the database) is
# stuck. A process younger than this has not had its first tick yet and is healthy meanwhile.
STALE_TICK = timedelta(minutes=3)
# A health check that hangs is worse than one that says no.
DB_TIMEOUT = 3.0
FLUSH_ROWS = 20  # a decision edits a few cards; the sender job takes any rest


class WebhookError(Exception):
    """Webhook mode cannot start; the message says why."""


def create_app(application: Application, settings: Settings) -> Starlette:
    """The ASGI app; `application` must be initialised and started by whoever serves it."""
    secret = settings.telegram.webhook_secret
    expected = secret.get_secret_value().encode() if secret is not None else None
    started = clock.now()

    async def telegram_update(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        # Compare bytes: compare_digest refuses non-ASCII str, and a header may hold anything.
        if (
            expected is None
            or given is None
            or not hmac.compare_digest(given.encode("latin-1"), expected)
        ):
            client = request.client.host if request.client else "?"
            reason = "without the" if given is None else "with a wrong"
            log.warning("webhook: refused a request from %s %s secret token", client, reason)
            return Response(status_code=403)
        try:
            data = json.loads(await request.body())
            update = Update.de_json(data, application.bot)
            if type(update.update_id) is not int:  # the redelivery guard keys on it
                raise ValueError("update_id")
        except Exception:  # not JSON, or JSON that is not an update: the sender's mistake
            return Response("not a Telegram update", status_code=400)
        # Queued, as polling does, rather than handled inside the request: Telegram gets its 200
        # at once, and one consumer handles updates in arrival order, so a person's answers are
        # never taken out of order by two of Telegram's parallel connections. Application.stop
        # drains the queue, so a graceful stop loses nothing; a kill -9 can lose what is queued,
        # as in polling mode.
        await application.update_queue.put(update)
        return Response(status_code=200)

    async def healthz(request: Request) -> Response:
        state: AppState = application.bot_data
        body, healthy = await health(state, started)
        return JSONResponse(body, status_code=200 if healthy else 503)

    async def metrics_page(request: Request) -> Response:
        try:
            async with asyncio.timeout(DB_TIMEOUT):
                metrics.set_backlog(await _backlog(application.bot_data))
        except Exception as exc:  # the rest of the metrics are still worth scraping
            log.warning("metrics: cannot read the outbox backlog: %r", exc)
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    from bot.web import dashboard  # the dashboard's modules only when a server is built

    async def flush() -> None:  # what a decision on the dashboard queued goes out now
        await deliver(application.bot_data.sessions, TelegramTransport(application.bot),
                      limit=FLUSH_ROWS, rounds=1)  # fmt: skip

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
        *dashboard.routes(application.bot_data, flush),
    ]
    if settings.telegram.mode == "webhook":  # polling mode serves the rest (decision 66)
        routes.insert(0, Route(settings.telegram.webhook_path, telegram_update, methods=["POST"]))
    # The dashboard's script and data cross slow mobile links: compressed when worth it.
    return Starlette(routes=routes, middleware=[Middleware(GZipMiddleware, minimum_size=1024)])


async def health(state: AppState, started: datetime) -> tuple[dict, bool]:
    """The /healthz body, and whether the process is healthy (database answers, tick fresh)."""
    now = clock.now()
    backlog = None
    try:
        async with asyncio.timeout(DB_TIMEOUT):
            backlog = await _backlog(state)
        database = "ok"
    except Exception as exc:
        log.warning("healthz: the database does not answer: %r", exc)
        database = "error"
    last: datetime | None = state.last_tick
    age = (now - last).total_seconds() if last is not None else None
    fresh = age < STALE_TICK.total_seconds() if age is not None else now - started < STALE_TICK
    healthy = database == "ok" and fresh
    body = {
        "database": database,
        "last_tick": last.isoformat() if last is not None else None,
        "tick_age_seconds": round(age, 1) if age is not None else None,
        "outbox_backlog": backlog,
        "status": "ok" if healthy else "degraded",
    }
    return body, healthy


async def _backlog(state: AppState) -> int:
    async with state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        backlog = Outbox.status.in_(UNSENT)  # by ix_outbox_status_next_attempt_at
        return await conn.scalar(select(func.count()).select_from(Outbox).where(backlog))


async def serve(application: Application, settings: Settings) -> None:
    """Run the bot in webhook mode until SIGINT or SIGTERM; the webhook stays set afterwards.

    Stopping leaves Telegram's webhook in place on purpose: with replicas, one stopping must not
    cut off the others, and a restarted process gets what Telegram kept meanwhile.
    """
    tg = settings.telegram
    sock = _listen(tg.listen, tg.port)
    # log_config=None: uvicorn's few lines go through opsbot's logging format, not its own.
    config = uvicorn.Config(
        create_app(application, settings),
        lifespan="off",
        access_log=False,
        log_config=None,
        log_level="warning",
    )
    server = _Server(config)
    route = connect.route(tg)
    try:
        # getMe: one line if Telegram does not answer
        await connect.initialize(route, application.bot, application.initialize())
    except connect.Unreachable as exc:
        raise WebhookError(str(exc)) from None
    try:
        try:
            with connect.starting(route):
                await startup(application)
            await application.start()  # the JobQueue and the update queue's consumer
            try:
                await application.bot.set_webhook(
                    tg.webhook_url,
                    secret_token=tg.webhook_secret.get_secret_value(),
                    allowed_updates=ALLOWED_UPDATES,
                )
            except TelegramError as exc:
                raise WebhookError(
                    f"Telegram refused the webhook {tg.webhook_url}: {exc}"
                ) from None
            log.warning(
                "opsbot running as @%s (webhook %s, listening on %s:%s); %s",
                application.bot.username, tg.webhook_url, tg.listen, tg.port,
                application.bot_data.extras.get("started_note", ""),
            )  # fmt: skip
            await server.serve(sockets=[sock])
        finally:
            if application.running:
                await application.stop()  # handles what is still queued
            await shutdown(application)
    except connect.Unreachable as exc:
        raise WebhookError(str(exc)) from None
    finally:
        await application.shutdown()


def _listen(host: str, port: int, keys: str = "telegram.listen, telegram.port") -> socket.socket:
    # Bound and listening before setWebhook, so Telegram's first post waits in the backlog
    # instead of being refused; and a port in use is reported before anything else starts.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise WebhookError(
            f"cannot listen on {host}:{port} ({keys}): {exc.strerror or exc}"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn, minus its habit of re-raising SIGTERM/SIGINT once it has stopped serving.

    That re-raise would kill the process before PTB stops (the update queue would not be
    drained). Here a signal only asks uvicorn to finish; serve() then stops the bot itself.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)


async def webhook_info(settings: Settings) -> list[str]:
    """`opsbot webhook info`: what Telegram has for this bot, as lines to print."""
    async with _bot(settings) as bot:
        info = await bot.get_webhook_info()
    if not info.url:
        return ["no webhook is set (polling mode can run)"]
    lines = [
        f"url: {info.url}",
        f"pending updates: {info.pending_update_count}",
        f"allowed updates: {', '.join(info.allowed_updates or []) or 'Telegram default'}",
    ]
    if info.last_error_date:
        when = f"{info.last_error_date:%Y-%m-%d %H:%M:%S %Z}"
        lines.append(f"last delivery error: {when}: {info.last_error_message}")
    return lines


async def delete_webhook(settings: Settings) -> str:
    """`opsbot webhook delete`: remove the webhook, keeping the updates Telegram holds."""
    async with _bot(settings) as bot:
        info = await bot.get_webhook_info()
        await bot.delete_webhook(drop_pending_updates=False)
    if not info.url:
        return "no webhook was set"
    return (
        f"webhook {info.url} deleted; its {info.pending_update_count} pending update(s) "
        "wait for polling"
    )


@contextlib.asynccontextmanager
async def _bot(settings: Settings) -> AsyncIterator[Bot]:
    # Through telegram.proxy like the running bot; a refused token is a config error (PTB's own
    # message would print the token), an unreachable Telegram the usual one line.
    bot = connect.bot(settings)
    try:
        await connect.initialize(connect.route(settings.telegram), bot, bot.initialize())
    except connect.Unreachable as exc:
        raise NetworkError(str(exc)) from None
    try:
        yield bot
    finally:
        await bot.shutdown()
