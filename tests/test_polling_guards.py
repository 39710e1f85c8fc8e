"""Polling stops rather than fights: over a webhook someone set, or another polling process."""

import asyncio
import contextlib
import os
import sys

import pytest
from support import opsbot_env, run_opsbot, wait_for_answer
from telegram import Bot
from telegram.error import Conflict

from bot.config import load_settings
from bot.simulator import TelegramSimulator
from bot.webhook import delete_webhook, webhook_info

pytestmark = pytest.mark.slow

HOOK = "https://bot.example.org/telegram"


async def set_webhook(sim: TelegramSimulator, url: str = HOOK) -> None:
    """Someone (another deployment, a curl) sets a webhook for the bot's token."""
    async with Bot(sim.token, base_url=sim.base_url) as bot:
        await bot.set_webhook(url, secret_token="elsewhere")


async def opsbot_run(sim, db_url: str, cwd) -> asyncio.subprocess.Process:
    """`opsbot run` in polling mode, in the background."""
    env = opsbot_env(sim, db_url, OPSBOT_TEAM__DIRECTORS="[1001]")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        env=env, cwd=str(cwd), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def start_polling_bot(sim, db_url: str, cwd) -> asyncio.subprocess.Process:
    """`opsbot run` in polling mode, once it has answered a /start (so it is surely polling)."""
    proc = await opsbot_run(sim, db_url, cwd)
    director = sim.user(id=1001, first_name="张", language_code="zh")
    await director.send("/start")
    await wait_for_answer(director, proc)
    return proc


async def test_it_refuses_to_poll_while_a_webhook_is_set(sim, tmp_path):
    await set_webhook(sim)
    db = tmp_path / "never.db"
    code, _, err = await run_opsbot("run", env=opsbot_env(sim, f"sqlite+aiosqlite:///{db}"))

    assert code == 2
    assert f"a webhook is set to {HOOK}" in err and "this bot is in polling mode" in err
    assert "opsbot webhook delete" in err and 'telegram.mode = "webhook"' in err
    assert "Traceback" not in err
    assert sim.webhook_url == HOOK and not sim.calls_to("deleteWebhook")  # not deleted silently
    assert not sim.calls_to("getUpdates")
    assert not db.exists()  # refused before migrating anything


async def test_webhook_info_and_delete_say_what_telegram_has(sim, monkeypatch):
    for key in list(os.environ):
        if key.startswith("OPSBOT_"):
            monkeypatch.delenv(key)
    settings = load_settings(telegram={"token": sim.token, "base_url": sim.base_url})
    assert await webhook_info(settings) == ["no webhook is set (polling mode can run)"]
    assert await delete_webhook(settings) == "no webhook was set"
    await set_webhook(sim)
    assert f"url: {HOOK}" in await webhook_info(settings)
    assert "pending updates: 0" in await webhook_info(settings)


async def test_opsbot_webhook_delete_lets_polling_start(sim, tmp_path):
    await set_webhook(sim)
    env = opsbot_env(sim, f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    code, out, err = await run_opsbot("webhook", "delete", env=env)
    assert code == 0, err
    assert f"webhook {HOOK} deleted" in out and "wait for polling" in out
    assert sim.webhook_url == ""


async def test_it_stops_when_another_process_polls_the_same_token(sim, db_url, engine, tmp_path):
    proc = await start_polling_bot(sim, db_url, tmp_path)

    async def other_process_polls() -> None:
        async with Bot(sim.token, base_url=sim.base_url) as other:
            with contextlib.suppress(Conflict):  # the bot's goodbye getUpdates ends this one
                await other.get_updates(timeout=20)

    other = asyncio.create_task(other_process_polls())
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        other.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await other
        if proc.returncode is None:
            proc.kill()
    err = err.decode()
    assert proc.returncode == 1, err
    assert "ERROR" in err and "only one polling process may run per bot token" in err
    assert "use webhook mode for several replicas" in err
    assert "terminated by other getUpdates request" in err
    assert "Traceback" not in err
    # The bot's polls carry allowed_updates; the other process's do not.
    bots = [c for c in sim.calls_to("getUpdates") if c.params.get("allowed_updates")]
    assert [c.error_code for c in bots].count(409) == 1  # it stopped at the first Conflict


async def test_two_polling_processes_both_stop(sim, tmp_path):
    # Telegram's rule, not the database's: one SQLite file is enough to show it.
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first = await start_polling_bot(sim, db_url, tmp_path)
    second = await opsbot_run(sim, db_url, tmp_path)
    try:
        results = await asyncio.wait_for(
            asyncio.gather(first.communicate(), second.communicate()), timeout=30
        )
    finally:
        for proc in (first, second):
            if proc.returncode is None:
                proc.kill()
    for proc, (_, err) in zip((first, second), results, strict=True):
        assert proc.returncode == 1, err.decode()
        assert "only one polling process may run per bot token" in err.decode()
