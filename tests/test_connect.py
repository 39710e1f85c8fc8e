"""Reaching Telegram: the proxy, one line when it cannot be reached, a connection lost and back."""

import asyncio
import contextlib
import signal
import socket
import sys

import pytest
from aiohttp import ClientSession, web
from support import opsbot_env, run_opsbot, wait_for_answer

from bot import connect
from bot.config import load_settings

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-pw"
UNREACHABLE_HINT = "for a self-hosted Bot API server set telegram.base_url"


class RecordingProxy:
    """An HTTP forward proxy on 127.0.0.1 that records each request (method, its Proxy auth)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []  # (Bot API method, Proxy-Authorization)
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def methods(self) -> set[str]:
        return {method for method, _ in self.seen}

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        # A forward proxy gets the absolute URL: http://127.0.0.1:<simulator>/bot<token>/<method>
        self.seen.append(
            (request.url.path.rsplit("/", 1)[-1], request.headers.get("Proxy-Authorization"))
        )
        hop = {"host", "proxy-authorization", "proxy-connection", "content-length", "connection"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hop}
        body = await request.read()
        async with (
            ClientSession() as s,
            s.request(request.method, str(request.url), data=body, headers=headers) as answer,
        ):
            return web.Response(
                body=await answer.read(), status=answer.status, content_type=answer.content_type
            )


@pytest.fixture
async def proxy():
    recording = RecordingProxy()
    await recording.start()
    yield recording
    await recording.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def failure_lines(err: str) -> list[str]:
    """Everything `opsbot run` wrote to stderr (a failed start writes its one line alone)."""
    return err.splitlines()


# unreachable at start


async def test_it_says_in_one_line_that_telegram_is_unreachable(tmp_path):
    port = closed_port()
    env = opsbot_env(None, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
                     OPSBOT_TELEGRAM__TOKEN="123456:TOKEN",
                     OPSBOT_TELEGRAM__BASE_URL=f"http://127.0.0.1:{port}/bot")  # fmt: skip
    code, out, err = await run_opsbot("run", env=env)

    assert code == 1  # not 2: systemd's RestartPreventExitStatus=2 would give up for good
    assert "Traceback" not in err and out == ""
    (line,) = failure_lines(err)
    assert f"cannot reach Telegram at 127.0.0.1:{port} (no proxy): connection refused" in line
    assert "check the network" in line and "telegram.proxy (OPSBOT_TELEGRAM__PROXY)" in line
    assert UNREACHABLE_HINT in line
    assert not (tmp_path / "a.db").exists()  # stopped before migrating


async def test_a_name_that_does_not_resolve_is_said_so(tmp_path):
    env = opsbot_env(None, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
                     OPSBOT_TELEGRAM__TOKEN="123456:TOKEN",
                     OPSBOT_TELEGRAM__BASE_URL="http://telegram.invalid/bot")  # fmt: skip
    code, _, err = await run_opsbot("run", env=env)

    assert code == 1
    assert "Traceback" not in err
    (line,) = failure_lines(err)
    assert "cannot reach Telegram at telegram.invalid (no proxy): the name does not resolve" in line
    assert "telegram.proxy" in line


async def test_webhook_mode_says_it_in_one_line_too(tmp_path):
    port = closed_port()
    env = opsbot_env(None, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
                     OPSBOT_TELEGRAM__TOKEN="123456:TOKEN",
                     OPSBOT_TELEGRAM__BASE_URL=f"http://127.0.0.1:{port}/bot",
                     OPSBOT_TELEGRAM__MODE="webhook",
                     OPSBOT_TELEGRAM__WEBHOOK_URL="https://bot.example.org/telegram",
                     OPSBOT_TELEGRAM__WEBHOOK_SECRET="secret-token",
                     OPSBOT_TELEGRAM__PORT=str(closed_port()))  # fmt: skip
    code, _, err = await run_opsbot("run", env=env)

    assert code == 1
    assert failure_lines(err) == [
        f"opsbot: cannot reach Telegram at 127.0.0.1:{port} (no proxy): connection refused — "
        "check the network; where Telegram is blocked (mainland China) set telegram.proxy "
        "(OPSBOT_TELEGRAM__PROXY), e.g. socks5://127.0.0.1:1080 or http://proxy.example:3128; "
        f"{UNREACHABLE_HINT}"
    ]


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_token_telegram_does_not_know_is_one_line_about_the_token(sim, tmp_path, mode):
    env = opsbot_env(sim, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
                     OPSBOT_TELEGRAM__TOKEN="123456:REVOKED-TOKEN",
                     OPSBOT_TELEGRAM__MODE=mode,
                     OPSBOT_TELEGRAM__WEBHOOK_URL="https://bot.example.org/telegram",
                     OPSBOT_TELEGRAM__WEBHOOK_SECRET="secret-token",
                     OPSBOT_TELEGRAM__PORT=str(closed_port()))  # fmt: skip
    code, _, err = await run_opsbot("run", env=env)

    assert code == 2  # configuration: restarting cannot help
    (line,) = failure_lines(err)
    assert line.startswith("opsbot: Telegram at 127.0.0.1:")
    assert "refused the bot token (getMe: Unauthorized)" in line
    assert "check telegram.token (OPSBOT_TELEGRAM__TOKEN)" in line and "@BotFather" in line
    assert "REVOKED" not in err
    assert [c.error_code for c in sim.calls_to("getMe")] == [401]


# the proxy


async def test_every_call_goes_through_telegram_proxy_with_its_credentials(sim, proxy, tmp_path):
    proxy_url = f"http://opsbot:{SECRET}@127.0.0.1:{proxy.port}"
    env = opsbot_env(sim, f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
                     OPSBOT_TEAM__DIRECTORS="[1001]", OPSBOT_TELEGRAM__PROXY=proxy_url)  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "-v", "run",
        env=env, cwd=str(tmp_path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    director = sim.user(id=1001, first_name="张", language_code="zh")
    try:
        await director.send("/start")
        await wait_for_answer(director, proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)

    assert {"getMe", "getUpdates", "sendMessage", "setMyCommands"} <= proxy.methods()
    calls = {c.method for c in sim.calls}
    assert calls <= proxy.methods()  # nothing reached the simulator around the proxy
    auth = {header for _, header in proxy.seen}
    assert len(auth) == 1 and auth.pop().startswith("Basic ")  # every request carried them
    assert SECRET not in out.decode() + err.decode()  # not even at INFO level


async def test_check_names_the_proxy_without_its_password(sim, proxy, db_url):
    proxy_url = f"http://opsbot:{SECRET}@127.0.0.1:{proxy.port}"
    env = opsbot_env(sim, db_url, OPSBOT_TELEGRAM__PROXY=proxy_url)
    _, out, err = await run_opsbot("check", env=env)

    (telegram,) = [line for line in out.splitlines() if "telegram:" in line]
    assert telegram == (
        f"OK   telegram: @opsbot_test_bot (id 123456) at {sim.base_url[7:-4]} through proxy "
        f"http://***@127.0.0.1:{proxy.port} from telegram.proxy"
    )
    assert {"getMe", "getWebhookInfo"} <= proxy.methods()
    assert SECRET not in out + err


async def test_a_proxy_that_refuses_is_named_in_the_one_line(sim, tmp_path):
    port = closed_port()
    socks = f"socks5://opsbot:{SECRET}@127.0.0.1:{port}"
    env = opsbot_env(sim, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", OPSBOT_TELEGRAM__PROXY=socks)
    code, _, err = await run_opsbot("run", env=env)

    assert code == 1
    (line,) = failure_lines(err)
    assert (
        f"cannot reach Telegram at {sim.base_url[7:-4]} through proxy "
        f"socks5://***@127.0.0.1:{port} from telegram.proxy: connection refused"
    ) in line
    assert "check that the proxy runs" in line
    assert SECRET not in err and not sim.calls


class Socks5Proxy:
    """A SOCKS5 proxy (RFC 1928, user/password per RFC 1929) that records whom it connected."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, str, int]] = []  # (user, host, port)
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, count = await reader.readexactly(2)
        if 2 not in await reader.readexactly(count):
            writer.write(b"\x05\xff")  # no acceptable method: this proxy wants a password
            return writer.close()
        writer.write(b"\x05\x02")
        _, length = await reader.readexactly(2)
        user = (await reader.readexactly(length)).decode()
        await reader.readexactly((await reader.readexactly(1))[0])  # the password
        writer.write(b"\x01\x00")
        _, _connect, _, kind = await reader.readexactly(4)
        if kind == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        else:
            host = socket.inet_ntoa(await reader.readexactly(4))
        port = int.from_bytes(await reader.readexactly(2), "big")
        self.connects.append((user, host, port))
        up_reader, up_writer = await asyncio.open_connection(host, port)
        writer.write(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + port.to_bytes(2, "big"))

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))


@pytest.mark.parametrize("source", ["OPSBOT_TELEGRAM__PROXY", "ALL_PROXY"])
async def test_a_socks5_proxy_with_a_password_works(sim, db_url, source):
    socks = Socks5Proxy()
    await socks.start()
    try:
        proxy_url = f"socks5://opsbot:{SECRET}@127.0.0.1:{socks.port}"
        env = opsbot_env(sim, db_url, **{source: proxy_url})
        _, out, err = await run_opsbot("check", env=env)
    finally:
        socks.server.close()

    named = "telegram.proxy" if source.startswith("OPSBOT") else source
    assert (
        f"OK   telegram: @opsbot_test_bot (id 123456) at {sim.base_url[7:-4]} through proxy "
        f"socks5://***@127.0.0.1:{socks.port} from {named}"
    ) in out.splitlines()
    sim_port = int(sim.base_url.split(":")[2].split("/")[0])
    assert socks.connects and set(socks.connects) == {("opsbot", "127.0.0.1", sim_port)}
    assert SECRET not in out + err


@pytest.mark.parametrize(
    ("variable", "used"),
    [("ALL_PROXY", True), ("HTTP_PROXY", True), ("all_proxy", True), ("HTTPS_PROXY", False)],
)
async def test_the_standard_proxy_variables_are_honoured(sim, proxy, db_url, variable, used):
    # The simulator is plain http: HTTPS_PROXY is for https:// base URLs (Telegram's own) only.
    env = opsbot_env(sim, db_url, **{variable: proxy.url})
    _, out, _ = await run_opsbot("check", env=env)

    (telegram,) = [line for line in out.splitlines() if "telegram:" in line]
    if used:
        assert telegram.endswith(f"through proxy {proxy.url} from {variable}")
        assert "getMe" in proxy.methods()
    else:
        assert telegram.endswith("(no proxy)")
        assert proxy.seen == []


async def test_no_proxy_and_telegram_proxy_win_over_the_variables(sim, proxy, db_url):
    env = opsbot_env(sim, db_url, ALL_PROXY=proxy.url, NO_PROXY="127.0.0.1")
    _, out, _ = await run_opsbot("check", env=env)
    assert "(no proxy)" in out and proxy.seen == []

    env = opsbot_env(sim, db_url, ALL_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1",
                     OPSBOT_TELEGRAM__PROXY=proxy.url)  # fmt: skip
    _, out, _ = await run_opsbot("check", env=env)
    assert f"through proxy {proxy.url} from telegram.proxy" in out and "getMe" in proxy.methods()


def test_https_proxy_is_used_for_telegrams_own_https_address(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "proxy.corp:3128")
    route = connect.route(load_settings().telegram)
    assert (route.host, route.proxy, route.source) == (
        "api.telegram.org",
        "http://proxy.corp:3128",
        "HTTPS_PROXY",
    )
    monkeypatch.setenv("NO_PROXY", ".telegram.org")
    assert connect.route(load_settings().telegram).describe() == "api.telegram.org (no proxy)"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ftp://user:pw-in-url@proxy:21", "expected http://, https://, socks5:// or socks5h://"),
        ("proxy.example:3128", "expected http://, https://, socks5:// or socks5h://"),
        ("http://user:pw-in-url@proxy:port", "the port is not a number"),
    ],
)
async def test_a_wrong_proxy_url_stops_start_up_naming_the_key(tmp_path, value, problem):
    env = opsbot_env(None, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
                     OPSBOT_TELEGRAM__TOKEN="1:T", OPSBOT_TELEGRAM__PROXY=value)  # fmt: skip
    code, _, err = await run_opsbot("run", env=env)

    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("opsbot: config error: telegram.proxy (OPSBOT_TELEGRAM__PROXY): ")
    assert problem in line and "pw-in-url" not in line


# a lost connection while running


class Relay:
    """The network between the bot and the simulator: a TCP relay on a fixed port, to cut."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = closed_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones (the long poll among them)."""
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._writers -= {writer, up_writer}


async def read_until(
    stream: asyncio.StreamReader, text: str, seen: list[str], limit: float
) -> None:
    """Collect stderr lines into `seen` until one contains `text`."""
    async with asyncio.timeout(limit):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"the bot ended before logging {text!r}: {seen}")
            seen.append(line.rstrip("\n"))
            if text in line:
                return


async def test_a_lost_connection_is_one_warning_and_one_when_it_is_back(sim, tmp_path):
    relay = Relay(int(sim.base_url.split(":")[2].split("/")[0]))
    await relay.up()
    env = opsbot_env(sim, f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
                     OPSBOT_TEAM__DIRECTORS="[1001]",
                     OPSBOT_TELEGRAM__BASE_URL=f"http://127.0.0.1:{relay.port}/bot")  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        env=env, cwd=str(tmp_path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    director = sim.user(id=1001, first_name="张", language_code="zh")
    err: list[str] = []
    try:
        await director.send("/start")
        await wait_for_answer(director)
        answered = len(director.inbox)

        await relay.cut()
        await read_until(proc.stderr, "lost the connection to Telegram", err, limit=30)
        await director.send("/help")  # waits at Telegram meanwhile
        await asyncio.sleep(4)  # the bot retries, backing off: 1 s, 1.5 s, …
        await relay.up()
        await read_until(proc.stderr, "the connection to Telegram is back", err, limit=60)
        await wait_for_answer(director, after=answered, what="the /help sent during the outage")
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        _, rest = await asyncio.wait_for(proc.communicate(), timeout=30)
        err += rest.decode().splitlines()

    assert proc.returncode == 0, err
    assert "Traceback" not in "\n".join(err)
    lost = [line for line in err if "lost the connection" in line]
    back = [line for line in err if "is back" in line]
    assert (
        len(lost) == 1
        and " WARNING bot.connect: polling: lost the connection to Telegram at " in lost[0]
    )
    assert f"127.0.0.1:{relay.port} (no proxy)" in lost[0] and "retrying with back-off" in lost[0]
    assert len(back) == 1 and " WARNING " in back[0]
    attempts = int(back[0].split("(")[-1].split()[0])
    assert attempts >= 3  # several failed polls, one line
    running = [line for line in err if "opsbot running as @" in line]
    assert len(running) == 1 and "(polling)" in running[0]
    assert failure_lines("\n".join(err)) == running + lost + back


async def test_tls_failure_and_silence_are_said_so(sim, db_url):
    # https:// to the plain-http simulator: the TLS handshake fails.
    env = opsbot_env(sim, db_url, OPSBOT_TELEGRAM__BASE_URL=sim.base_url.replace("http:", "https:"))
    code, out, _ = await run_opsbot("check", env=env)
    (tls,) = [line for line in out.splitlines() if "telegram:" in line]

    # A port that takes the connection and never answers (nobody accepts it).
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        env = opsbot_env(sim, db_url, OPSBOT_TELEGRAM__BASE_URL=f"http://127.0.0.1:{port}/bot")
        _, out, _ = await run_opsbot("check", env=env)
    (timeout,) = [line for line in out.splitlines() if "telegram:" in line]

    assert code == 1
    assert tls.startswith(f"FAIL telegram: cannot reach Telegram at {sim.base_url[7:-4]}")
    assert "(no proxy): TLS failed (" in tls
    assert timeout.startswith(
        f"FAIL telegram: cannot reach Telegram at 127.0.0.1:{port} (no proxy): "
        "no answer in time (timed out) — check the network;"
    )


async def test_opsbot_webhook_info_says_the_same_lines(sim, tmp_path):
    db = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    code, out, err = await run_opsbot(
        "webhook", "info", env=opsbot_env(sim, db, OPSBOT_TELEGRAM__TOKEN="123456:REVOKED-TOKEN")
    )
    assert code == 2 and out == "" and "REVOKED" not in err
    (line,) = err.splitlines()
    assert "refused the bot token (getMe: Unauthorized)" in line

    port = closed_port()
    env = opsbot_env(sim, db, OPSBOT_TELEGRAM__BASE_URL=f"http://127.0.0.1:{port}/bot")
    code, _, err = await run_opsbot("webhook", "info", env=env)
    assert code == 1
    (line,) = err.splitlines()
    assert f"cannot reach Telegram at 127.0.0.1:{port} (no proxy): connection refused" in line
