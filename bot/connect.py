"""How opsbot reaches the Bot API (base_url, proxy), and one-line reasons when it cannot."""

import logging
import os
import socket
import ssl
import time
import urllib.request
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

import httpx
from telegram import Bot
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from bot.aiohttp_request import AiohttpRequest
from bot.config import ConfigError, Settings, TelegramSettings

log = logging.getLogger(__name__)

PROXY_HINT = (
    "where Telegram is blocked (mainland China) set telegram.proxy "
    "(OPSBOT_TELEGRAM__PROXY), e.g. socks5://127.0.0.1:1080 or http://proxy.example:3128"
)
BASE_URL_HINT = "for a self-hosted Bot API server set telegram.base_url"


@dataclass(frozen=True)
class Route:
    """Where the Bot API is and how it is reached: directly or through a proxy."""

    base_url: str
    proxy: str | None = None  # with credentials: only for httpx, never shown
    source: str = ""  # "telegram.proxy", or the environment variable it came from

    @property
    def host(self) -> str:
        """The Bot API server as host[:port]."""
        return urlsplit(self.base_url).netloc or self.base_url

    @property
    def via(self) -> str:
        """How the server is reached, for messages: 'no proxy' or the proxy without credentials."""
        if self.proxy is None:
            return "no proxy"
        return f"proxy {safe_url(self.proxy)} from {self.source}"

    def describe(self) -> str:
        """'api.telegram.org (no proxy)' or 'api.telegram.org through proxy … from …'."""
        if self.proxy is None:
            return f"{self.host} (no proxy)"
        return f"{self.host} through {self.via}"


def safe_url(url: str) -> str:
    """The URL without user name and password (a proxy's credentials are never shown)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=f"***@{netloc}").geturl()


def route(tg: TelegramSettings) -> Route:
    """The route to the Bot API: telegram.proxy, else the standard proxy variables.

    The variables are read as httpx reads them (urllib's getproxies: HTTPS_PROXY for an https
    base URL, HTTP_PROXY for an http one, ALL_PROXY for both, lower case first, NO_PROXY exempts
    hosts) and then handed to httpx explicitly, so what is logged is what is used.
    telegram.proxy wins over all of them, NO_PROXY included.
    """
    if tg.proxy is not None:
        return Route(tg.base_url, tg.proxy.get_secret_value(), "telegram.proxy")
    proxies = urllib.request.getproxies()
    parts = urlsplit(tg.base_url)
    if parts.hostname and urllib.request.proxy_bypass_environment(parts.hostname, proxies):
        return Route(tg.base_url)
    for scheme in (parts.scheme, "all"):
        if proxies.get(scheme):
            url = proxies[scheme]
            url = url if "://" in url else f"http://{url}"
            return Route(tg.base_url, url, _env_name(scheme))
    return Route(tg.base_url)


def _env_name(scheme: str) -> str:
    lower = f"{scheme}_proxy"
    return lower if os.environ.get(lower) else lower.upper()


def request(r: Route, *, updates: bool = False) -> BaseRequest:
    """A request on the route; PTB's own pool sizes (1 for getUpdates, 256 otherwise).

    aiohttp when the route is direct (a third of httpx's CPU per call, decision 67); through a
    proxy, PTB's HTTPXRequest, which speaks SOCKS as well as HTTP proxies."""
    pool = 1 if updates else 256
    if r.proxy is None:
        return AiohttpRequest(pool, tls=None if _system_trust() else _tls())
    return HTTPXRequest(connection_pool_size=pool, proxy=r.proxy, httpx_kwargs={"verify": _tls()})


@cache
def _system_trust() -> bool:
    # AiohttpRequest trusts the system's certificates (aiohttp_request.system_tls), built at
    # its first https:// call. A system without them gets httpx's (certifi) instead.
    paths = ssl.get_default_verify_paths()
    return any(path and os.path.exists(path) for path in (paths.cafile, paths.capath))


@cache
def _tls() -> ssl.SSLContext:
    # httpx's own default (certifi, or SSL_CERT_FILE/SSL_CERT_DIR), built once per process:
    # each build costs ~20 ms of CPU and every Application opens two clients (decision 47).
    return httpx.create_ssl_context()


def bot(settings: Settings) -> Bot:
    """A plain Bot on the configured route (the CLI's one-off calls and `opsbot check`)."""
    tg = settings.telegram
    return Bot(
        settings.require_token(),
        base_url=tg.base_url,
        base_file_url=tg.base_file_url,
        request=request(route(tg)),
    )


def unreachable(r: Route, exc: BaseException) -> str:
    """One line: what was tried, what happened, what to check."""
    if r.proxy is None:
        check = f"check the network; {PROXY_HINT}; {BASE_URL_HINT}"
    else:
        check = (
            f"check that the proxy runs and lets the bot through ({r.source}), and the network; "
            f"{BASE_URL_HINT}"
        )
    return f"cannot reach Telegram at {r.describe()}: {answer(exc)} — {check}"


def bad_token(r: Route, exc: BaseException) -> str:
    """One line for a token Telegram does not accept (401 Unauthorized, 404 Not Found)."""
    # PTB's own message quotes the token; Telegram's answer ("Unauthorized") is its cause.
    cause = exc.__cause__ if isinstance(exc.__cause__, TelegramError) else exc
    said = cause.message if "`" not in cause.message else "Unauthorized"
    return (
        f"Telegram at {r.host} refused the bot token (getMe: {said}) — check telegram.token "
        "(OPSBOT_TELEGRAM__TOKEN): copy it again from @BotFather (/mybots → API Token; "
        "/revoke makes the old one stop working); a self-hosted server's telegram.base_url "
        "must end in /bot"
    )


def answer(exc: BaseException) -> str:
    """What the network said, in words: DNS, refused, timed out, TLS, the proxy's answer."""
    chain = _chain(exc)
    for e in chain:
        if type(e).__module__.startswith("aiohttp."):
            continue  # aiohttp's wrapper (some subclass OSError); the cause follows it
        if isinstance(e, socket.gaierror):
            return f"the name does not resolve (DNS: {e.strerror or e})"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS failed, the certificate is not trusted ({e.verify_message or e})"
        if isinstance(e, ssl.SSLError):
            return f"TLS failed ({e.reason or e})"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, ConnectionResetError):
            return "the connection was reset"
        if type(e).__name__ == "ProxyError":  # httpx's and httpcore's
            return f"the proxy answered: {e}"
    if any(isinstance(e, TimedOut) or "Timeout" in type(e).__name__ for e in chain):
        return "no answer in time (timed out)"
    inner = chain[-1]
    return str(inner).rstrip(".") or type(inner).__name__


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


class Episodes:
    """Logs a lost connection once when it starts and once when it is back, not every retry."""

    def __init__(self, r: Route, what: str) -> None:
        self.route, self.what = r, what
        self.since: float | None = None
        self.failures = 0

    def failed(self, exc: NetworkError) -> None:
        """A call failed on the network; the first of an episode is logged."""
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            log.warning(
                "%s: lost the connection to Telegram at %s: %s; retrying with back-off",
                self.what, self.route.describe(), answer(exc),
            )  # fmt: skip

    def succeeded(self) -> None:
        """A call got an answer; ends an episode, if one was going on."""
        if self.since is not None:
            seconds = time.monotonic() - self.since
            log.warning(
                "%s: the connection to Telegram is back after %.0f s (%d failed attempts)",
                self.what, seconds, self.failures,
            )  # fmt: skip
            self.since, self.failures = None, 0


class WatchedRequest(BaseRequest):
    """The getUpdates request: network failures and the recovery go to an Episodes log."""

    def __init__(self, r: Route, episodes: Episodes) -> None:
        self.inner = request(r, updates=True)
        self.episodes = episodes

    @property
    def read_timeout(self) -> float | None:
        """The inner request's default read timeout."""
        return self.inner.read_timeout

    async def initialize(self) -> None:
        """Open the inner request."""
        await self.inner.initialize()

    async def shutdown(self) -> None:
        """Close the inner request."""
        await self.inner.shutdown()

    async def do_request(self, *args, **kwargs) -> tuple[int, bytes]:
        """The inner request's call."""
        return await self.inner.do_request(*args, **kwargs)

    async def post(self, *args, **kwargs):
        """BaseRequest.post, watched (TimedOut is a NetworkError; 5xx answers too)."""
        try:
            result = await super().post(*args, **kwargs)
        except TelegramError as exc:
            # BadRequest is a NetworkError in PTB, but Telegram answered it.
            if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
                self.episodes.failed(exc)
            else:
                self.episodes.succeeded()
            raise
        self.episodes.succeeded()
        return result


class Unreachable(Exception):
    """Telegram did not answer at start; the message is the one line for the operator."""


@contextmanager
def starting(r: Route) -> Iterator[None]:
    """Turn a start-up failure to reach Telegram into one line: Unreachable or ConfigError."""
    try:
        yield
    except InvalidToken as exc:
        raise ConfigError(bad_token(r, exc)) from None
    except NetworkError as exc:
        if isinstance(exc, BadRequest):  # Telegram answered; not a connection problem
            raise
        raise Unreachable(unreachable(r, exc)) from None


async def initialize(r: Route, bot: Bot, initializing: Awaitable[None]) -> None:
    """Await `initializing` (an Application's or a Bot's initialize: getMe) as `starting` does.
    When it fails, the bot's connections are closed before the one line is raised: aiohttp
    warns at exit of a session left open."""
    try:
        with starting(r):
            await initializing
    except BaseException:
        await bot.shutdown()
        raise
