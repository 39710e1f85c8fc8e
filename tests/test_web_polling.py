"""Polling mode with web.port (issue 19): `opsbot run` serves /healthz, /metrics and the
dashboard beside polling, and stops both on SIGTERM."""

import asyncio
import signal
import socket
import sys

import httpx
import pytest
from support import opsbot_env, wait_for_answer
from web_support import signed

from bot.config import ConfigError, TelegramSettings, load_settings
from bot.webhook import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_polling_serves_health_metrics_and_the_dashboard(sim, db_url, engine, tmp_path):
    port = free_port()
    env = opsbot_env(sim, db_url, OPSBOT_TEAM__DIRECTORS="[1001]", OPSBOT_WEB__PORT=str(port))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        env=env, cwd=str(tmp_path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    director = sim.user(id=1001, first_name="张", last_name="总", language_code="zh")
    try:
        await director.send("/start")
        await wait_for_answer(director, proc)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            health = await http.get("/healthz")
            metrics = await http.get("/metrics")
            page = await http.get("/app")
            me = await http.get(
                "/app/api/me", headers={"Authorization": f"tma {signed(director, sim.token)}"}
            )
            webhook = await http.post("/telegram", json={"update_id": 1})
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, err.decode()
    assert health.status_code == 200 and health.json()["database"] == "ok"
    assert "opsbot_updates_total" in metrics.text
    assert page.status_code == 200 and "app/static/app.js" in page.text
    assert me.json()["name"] == "张 总" and me.json()["director"] is True
    assert webhook.status_code in (404, 405)  # polling mode takes no webhook posts


async def test_a_taken_port_stops_start_up_naming_the_key(sim, db_url, engine, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = opsbot_env(sim, db_url, OPSBOT_WEB__PORT=str(port))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run",
            env=env, cwd=str(tmp_path), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port} (web.listen, web.port)" in err.decode()


def test_the_public_url_must_be_https(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"web\.public_url \(OPSBOT_WEB__PUBLIC_URL\)"):
        load_settings(web={"public_url": "http://ops.example.cn/app"})
    assert load_settings(web={"public_url": "https://ops.example.cn/app/"}).web.public_url == (
        "https://ops.example.cn/app"
    )


async def test_webhook_mode_serves_the_dashboard_beside_the_webhook(app, settings):
    telegram = settings.telegram.model_dump() | {
        "mode": "webhook",
        "webhook_url": "https://ops.example.cn/telegram",
        "webhook_secret": "s3cret",
    }
    hooked = settings.model_copy(update={"telegram": TelegramSettings(**telegram)})
    transport = httpx.ASGITransport(app=create_app(app, hooked))
    async with httpx.AsyncClient(transport=transport, base_url="http://opsbot.test") as http:
        assert (await http.get("/app")).status_code == 200
        assert (await http.get("/app/api/me")).status_code == 401
        assert (await http.post("/telegram", json={"update_id": 1})).status_code == 403
