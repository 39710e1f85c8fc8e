"""Polling mode with a web server beside it: /healthz, /metrics and the dashboard (web.port)."""

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from telegram.ext import Application

from bot.app import poll
from bot.config import Settings
from bot.webhook import _listen, create_app


class _Beside(uvicorn.Server):
    """uvicorn without signal handlers of its own: poll() owns SIGINT/SIGTERM and stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server(application: Application, settings: Settings) -> tuple[_Beside, object]:
    """The server and its listening socket (bound now: a port in use stops start-up at once)."""
    web = settings.web
    sock = _listen(web.listen, web.port, "web.listen, web.port")
    config = uvicorn.Config(
        create_app(application, settings),
        lifespan="off",
        access_log=False,
        log_config=None,
        log_level="warning",
    )
    return _Beside(config), sock


async def poll_and_serve(application: Application, settings: Settings) -> None:
    """Poll for updates and serve the web pages until poll() stops (a signal, a conflict)."""
    web, sock = server(application, settings)
    serving = asyncio.create_task(web.serve(sockets=[sock]))
    try:
        await poll(application)
    finally:
        web.should_exit = True
        await serving
