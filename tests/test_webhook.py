"""Webhook mode: Telegram's posts (secret checked), /healthz, /metrics, and `opsbot run` serving."""

import asyncio
import logging
import signal
import socket
import sys
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url
from support import opsbot_env, wait_for_answer

from bot import clock
from bot.config import ConfigError, TelegramSettings, load_settings
from bot.db import make_engine
from bot.outbox import enqueue
from bot.simulator.driver import text_entities
from bot.webhook import SECRET_HEADER, create_app
from jobs.tick import tick

SECRET = "s3cret_-Token"
PATH = "/telegram"


@pytest.fixture
def settings(settings):
    """conftest's settings, in webhook mode."""
    telegram = settings.telegram.model_dump() | {
        "mode": "webhook",
        "webhook_url": "https://bot.example.org/telegram",
        "webhook_secret": SECRET,
    }
    return settings.model_copy(update={"telegram": TelegramSettings(**telegram)})


@pytest.fixture
async def client(app, settings, sim):
    """The ASGI app in front of the started Application; the simulator posts updates to it,
    as Telegram does to a webhook, and each post returns once the bot has handled it."""
    await app.start()
    # The tests tick by hand: a scheduled tick would move last_tick under their feet.
    for job in app.job_queue.jobs():
        job.schedule_removal()
    transport = httpx.ASGITransport(app=create_app(app, settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://opsbot.test") as client:

        async def post(update: dict) -> None:
            response = await client.post(PATH, json=update, headers={SECRET_HEADER: SECRET})
            assert response.status_code == 200
            await app.update_queue.join()

        sim.on_update = post
        yield client
    await app.stop()


def help_update(sim, persona, update_id: int) -> dict:
    """A /help from `persona`, as Telegram would post it (not yet delivered)."""
    extra = {"entities": text_entities("/help")}
    msg = sim.store_user_message(persona, persona.id, "/help", extra)
    persona.started = True
    return {"update_id": update_id, "message": sim.message_dict(msg)}


def sample(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from a Prometheus text exposition."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


async def scrape(client) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_it_handles_an_update_posted_with_the_right_secret(client, director):
    await director.send("/help")
    assert "我能为你做什么" in director.inbox[-1].plain


async def test_it_refuses_a_missing_or_wrong_secret_and_handles_nothing(
    client, app, sim, director, caplog
):
    update = help_update(sim, director, 500)
    caplog.set_level(logging.WARNING, logger="bot.webhook")
    missing = await client.post(PATH, json=update)
    wrong = await client.post(PATH, json=update, headers={SECRET_HEADER: "guessed-Token"})
    other_path = await client.post("/", json=update, headers={SECRET_HEADER: SECRET})
    await app.update_queue.join()

    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert other_path.status_code in (404, 405)
    assert director.inbox == []
    refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("without the secret token" in line for line in refusals)
    assert any("with a wrong secret token" in line for line in refusals)
    assert not any(SECRET in line or "guessed" in line for line in caplog.messages)
    # The same update with the right secret is handled: the refusals recorded nothing of it.
    assert (
        await client.post(PATH, json=update, headers={SECRET_HEADER: SECRET})
    ).status_code == 200
    await app.update_queue.join()
    assert "我能为你做什么" in director.inbox[-1].plain


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "x"}', "更新".encode()]
)
async def test_it_answers_400_to_what_is_not_an_update(client, app, body):
    headers = {SECRET_HEADER: SECRET, "content-type": "application/json"}
    response = await client.post(PATH, content=body, headers=headers)
    assert response.status_code == 400
    assert app.update_queue.empty()


async def test_healthz_is_ok_before_the_first_tick_and_after_one(client, app):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "last_tick": None,
        "tick_age_seconds": None,
        "outbox_backlog": 0,
        "status": "ok",
    }
    await tick(app.bot_data, app.bot)
    body = (await client.get("/healthz")).json()
    assert body["status"] == "ok" and body["last_tick"] is not None
    assert 0 <= body["tick_age_seconds"] < 60


async def test_healthz_is_503_when_the_tick_is_stale(client, app):
    await tick(app.bot_data, app.bot)
    app.bot_data.last_tick = clock.now() - timedelta(minutes=5)
    response = await client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and body["database"] == "ok"
    assert body["tick_age_seconds"] >= 300


async def test_healthz_is_503_when_no_tick_came_long_after_start(client, app):
    clock.start_at(clock.now() + timedelta(minutes=10))
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["last_tick"] is None


@pytest.mark.databases
async def test_healthz_is_503_when_the_database_is_gone(client, app, engine, caplog):
    url = make_url(engine.url.render_as_string(hide_password=False))
    if engine.dialect.name == "sqlite":
        broken = url.set(database="/nonexistent-directory/opsbot.db")
    else:
        broken = url.set(database="opsbot_no_such_database")
    app.bot_data.engine = make_engine(broken.render_as_string(hide_password=False))
    try:
        response = await client.get("/healthz")
        metrics_page = await client.get("/metrics")  # still scraped, minus the backlog
    finally:
        await app.bot_data.engine.dispose()
        app.bot_data.engine = engine
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "error" and body["status"] == "degraded"
    assert body["outbox_backlog"] is None
    assert metrics_page.status_code == 200
    assert any("database does not answer" in m for m in caplog.messages)


async def test_metrics_count_updates_sends_and_ticks(client, app, sessions, director):
    before = await scrape(client)
    await director.send("/help")
    async with sessions() as s, s.begin():
        await enqueue(s, "test:metrics:ok", director.id, "你好")
        await enqueue(s, "test:metrics:nowhere", 424242, "没有这个人")
    queued = await scrape(client)
    await tick(app.bot_data, app.bot)
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - (sample(before, name, **labels) or 0)

    assert grew("opsbot_updates_total", type="message") == 1
    assert sample(after, "opsbot_updates_total", type="callback_query") is not None
    assert grew("opsbot_handler_seconds_count") == 1
    assert sample(queued, "opsbot_outbox_backlog") == 2
    assert sample(after, "opsbot_outbox_backlog") == 0
    assert grew("opsbot_outbox_sent_total") >= 1
    assert grew("opsbot_outbox_send_errors_total", kind="permanent") == 1  # chat not found
    assert grew("opsbot_tick_seconds_count") == 1
    assert sample(after, "opsbot_last_tick_timestamp_seconds") > 0


# Settings


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in list(__import__("os").environ):
        if key.startswith("OPSBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPSBOT_TELEGRAM__MODE", "webhook")


def test_webhook_mode_needs_a_url(clean_env, monkeypatch):
    monkeypatch.setenv("OPSBOT_TELEGRAM__WEBHOOK_SECRET", SECRET)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "telegram.webhook_url" in str(err.value)
    assert "OPSBOT_TELEGRAM__WEBHOOK_URL" in str(err.value)


def test_webhook_mode_needs_a_secret(clean_env, monkeypatch):
    monkeypatch.setenv("OPSBOT_TELEGRAM__WEBHOOK_URL", "https://bot.example.org/telegram")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "webhook_secret" in str(err.value)
    assert "OPSBOT_TELEGRAM__WEBHOOK_SECRET" in str(err.value)


@pytest.mark.parametrize("secret", ["has space", "ünïcode", "x" * 257, "semi;colon"])
def test_a_secret_telegram_would_refuse_is_refused_without_echoing_it(
    clean_env, monkeypatch, secret
):
    monkeypatch.setenv("OPSBOT_TELEGRAM__WEBHOOK_URL", "https://bot.example.org/telegram")
    monkeypatch.setenv("OPSBOT_TELEGRAM__WEBHOOK_SECRET", secret)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "webhook_secret" in str(err.value) and "A-Z, a-z, 0-9, _ and -" in str(err.value)
    assert secret not in str(err.value)


def test_the_secret_is_read_from_a_file(clean_env, monkeypatch, tmp_path):
    (tmp_path / "secret").write_text(SECRET + "\n")
    monkeypatch.setenv("OPSBOT_TELEGRAM__WEBHOOK_URL", "https://bot.example.org/telegram")
    monkeypatch.setenv("OPSBOT_TELEGRAM__WEBHOOK_SECRET_FILE", str(tmp_path / "secret"))
    s = load_settings()
    assert s.telegram.webhook_secret.get_secret_value() == SECRET
    assert (s.telegram.listen, s.telegram.port, s.telegram.webhook_path) == (
        "127.0.0.1",
        8080,
        "/telegram",
    )
    monkeypatch.setenv("OPSBOT_TELEGRAM__WEBHOOK_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="cannot read webhook_secret_file"):
        load_settings()


def test_polling_mode_needs_no_webhook_settings(clean_env, monkeypatch):
    monkeypatch.setenv("OPSBOT_TELEGRAM__MODE", "polling")
    assert load_settings().telegram.webhook_url is None


# `opsbot run` in webhook mode, end to end


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
async def test_opsbot_run_serves_the_webhook_and_leaves_it_set(sim, db_url, engine, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}{PATH}"
    env = opsbot_env(
        sim,
        db_url,
        OPSBOT_TEAM__DIRECTORS="[1001]",
        OPSBOT_TELEGRAM__MODE="webhook",
        OPSBOT_TELEGRAM__WEBHOOK_URL=url,
        OPSBOT_TELEGRAM__WEBHOOK_SECRET=SECRET,
        OPSBOT_TELEGRAM__PORT=str(port),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        env=env, cwd=str(tmp_path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    director = sim.user(id=1001, first_name="张", last_name="总", language_code="zh")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

        async def telegram_posts(update: dict) -> None:
            response = await http.post(PATH, json=update, headers={SECRET_HEADER: SECRET})
            assert response.status_code == 200

        try:
            for _ in range(600):
                if sim.webhook_url or proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)
            assert sim.webhook_url == url, "the bot did not set its webhook"
            sim.on_update = telegram_posts
            await director.send("/start")
            await wait_for_answer(director, proc)
            assert "欢迎回来" in director.inbox[-1].plain
            health = await http.get("/healthz")
            page = (await http.get("/metrics")).text
            refused = await http.post(PATH, json={"update_id": 1}, headers={SECRET_HEADER: "x"})
        finally:
            sim.on_update = None
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, err.decode()
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert sample(page, "opsbot_updates_total", type="message") == 1
    assert refused.status_code == 403
    assert "refused a request from 127.0.0.1 with a wrong secret token" in err.decode()
    assert SECRET not in err.decode()
    (call,) = sim.calls_to("setWebhook")
    assert call.params["secret_token"] == SECRET
    assert set(call.params["allowed_updates"]) == {
        "message",
        "edited_message",
        "callback_query",
        "my_chat_member",
    }
    assert sim.webhook_url == url and not sim.calls_to("deleteWebhook")  # left set on stop
    assert not sim.calls_to("getUpdates")
