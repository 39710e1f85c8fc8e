"""The Bot API over aiohttp (bot/aiohttp_request.py, decision 67): what PTB's HTTPXRequest did,
seen from Telegram's side — parameters, files up and down, refusals, floods, time-outs — and
the route that picks it (a proxy keeps httpx)."""

import asyncio
import socket
import ssl
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp import web
from pydantic import SecretStr
from telegram import Bot
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot import connect
from bot.aiohttp_request import AiohttpRequest, system_tls
from bot.app import build_application

TOKEN = "123456:TEST-TOKEN"
TLS = Path(__file__).parent / "tls"  # a CA and a certificate for 127.0.0.1 it signed


@pytest.fixture
async def bot(sim):
    async with Bot(
        TOKEN, base_url=sim.base_url, base_file_url=sim.base_file_url, request=AiohttpRequest()
    ) as ptb_bot:
        yield ptb_bot


@pytest.fixture
async def wang(sim):
    user = sim.user(id=1001, first_name="王", last_name="伟", language_code="zh")
    await user.send("/start")
    return user


async def test_a_message_arrives_as_sent_with_its_buttons(bot, wang):
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    keys = InlineKeyboardMarkup([[InlineKeyboardButton("✅ 批准", callback_data="apr:v1:ok:1")]])
    sent = await bot.send_message(wang.id, "<b>费用申报</b> ¥300 & 打印", reply_markup=keys,
                                  parse_mode="HTML")  # fmt: skip
    assert wang.last.plain == "费用申报 ¥300 & 打印"
    assert wang.last.labels == ["✅ 批准"]
    edited = await bot.edit_message_text("已批准", wang.id, sent.message_id)
    assert edited.text == "已批准" and wang.last.plain == "已批准"


async def test_files_go_up_with_name_type_and_bytes_and_come_back(bot, wang):
    xlsx = b"PK\x03\x04" + bytes(range(256)) * 40
    doc = await bot.send_document(wang.id, xlsx, filename="周报 12月.xlsx", caption="导出")
    assert doc.document.file_name == "周报 12月.xlsx"
    assert wang.last.document.data == xlsx and wang.last.plain == "导出"
    file = await bot.get_file(doc.document.file_id)
    assert bytes(await file.download_as_bytearray()) == xlsx


async def test_telegrams_refusals_and_floods_are_ptbs_errors(sim, bot, wang):
    with pytest.raises(BadRequest, match="parse entities"):
        await bot.send_message(wang.id, "<b>未闭合", parse_mode="HTML")
    sim.flood_limits = True  # a private chat: a burst of 3, then 1 a second
    with pytest.raises(RetryAfter) as flood:
        for _ in range(5):
            await bot.send_message(wang.id, "太快了")
    wait = flood.value.retry_after
    assert getattr(wait, "total_seconds", lambda: wait)() >= 1


async def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        request = AiohttpRequest(read_timeout=0.3, connect_timeout=0.3, pool_timeout=0.3)
        await request.initialize()
        try:
            port = silent.getsockname()[1]
            with pytest.raises(TimedOut):
                await asyncio.wait_for(request.post(f"http://127.0.0.1:{port}/bot/getMe"), 10)
        finally:
            await request.shutdown()


async def test_it_opens_again_after_a_shutdown_and_refuses_before(sim):
    request = AiohttpRequest()
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(f"{sim.base_url}{TOKEN}/getMe")
    for _ in range(2):  # as an Application initialized, shut down and initialized again
        await request.initialize()
        me = await request.post(f"{sim.base_url}{TOKEN}/getMe")
        assert me["username"] == sim.bot_username
        await request.shutdown()


def test_the_bot_uses_aiohttp_directly_and_httpx_through_a_proxy(settings):
    direct = build_application(settings)
    assert isinstance(direct.bot.request, AiohttpRequest)
    proxy = settings.telegram.model_copy(update={"proxy": SecretStr("http://127.0.0.1:1")})
    proxied = build_application(settings.model_copy(update={"telegram": proxy}))
    assert isinstance(proxied.bot.request, HTTPXRequest)
    assert isinstance(connect.request(connect.Route("https://api.telegram.org/bot")),
                      AiohttpRequest)  # fmt: skip


async def test_a_text_that_holds_the_form_boundary_arrives_whole(bot, wang, monkeypatch):
    tokens = iter(["0badc0de", "5afe5afe"])
    monkeypatch.setattr("bot.aiohttp_request.secrets.token_hex", lambda n: next(tokens))
    text = '第一行 a=1&b=2\r\n--0badc0de\r\nContent-Disposition: form-data; name="chat_id"\r\n\r\n7'
    await bot.send_message(wang.id, text)
    assert wang.last.text == text


def test_a_system_without_certificates_trusts_httpxs_instead(monkeypatch, tmp_path):
    route = connect.Route("https://api.telegram.org/bot")
    store = tmp_path / "ca-certificates.crt"
    store.write_text("")
    try:
        for cafile, trusted in ((str(store), None), ("/nonexistent/ca.crt", connect._tls())):
            connect._system_trust.cache_clear()
            paths = SimpleNamespace(cafile=cafile, capath="/nonexistent/certs")
            monkeypatch.setattr(connect.ssl, "get_default_verify_paths", lambda p=paths: p)
            # None: aiohttp's own context on the system's store; else httpx's (certifi).
            assert connect.request(route)._tls is trusted
    finally:
        connect._system_trust.cache_clear()


@pytest.fixture
async def https_telegram():
    """A Bot API answering getMe over TLS, its certificate signed by the tests' own CA."""
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(TLS / "server.pem", TLS / "server.key")
    me = {"id": 42, "is_bot": True, "first_name": "运营助手", "username": "ops_bot"}

    async def get_me(_) -> web.Response:
        return web.json_response({"ok": True, "result": me})

    app = web.Application()
    app.router.add_post(f"/bot{TOKEN}/getMe", get_me)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"https://127.0.0.1:{port}/bot"
    await runner.cleanup()


async def test_https_trusts_the_systems_certificates_and_those_only(https_telegram, monkeypatch):
    async def username() -> str:
        system_tls.cache_clear()  # built again, from the certificates the system has now
        request = AiohttpRequest()
        async with Bot(TOKEN, base_url=https_telegram, request=request) as bot:
            return bot.username

    try:
        with pytest.raises(NetworkError, match="certificate verify failed"):
            await username()  # the test's CA is not the system's
        # OpenSSL's own variable for the system's bundle, naming the test's CA instead.
        monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "ca.pem"))
        assert await username() == "ops_bot"
    finally:
        system_tls.cache_clear()
