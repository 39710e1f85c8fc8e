"""Shared test helpers: team-local times, people on the team, `opsbot` in a subprocess."""

import asyncio
import os
import sys
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.simulator import Persona, TelegramSimulator

TZ = ZoneInfo("Asia/Shanghai")  # the team's zone in the tests' settings (the default)
TEAM_GROUP = -8001  # the team group the `lina` fixture binds


def local(when: str) -> datetime:
    """A team-local wall time ("2026-11-26 18:05") as an aware UTC moment."""
    return datetime.fromisoformat(when).replace(tzinfo=TZ).astimezone(UTC)


def opsbot_env(sim: TelegramSimulator | None, db_url: str, **extra: str) -> dict[str, str]:
    """A clean environment pointing opsbot at the simulator and a test database."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPSBOT_DATABASE__URL": db_url}
    if sim is not None:
        env |= {
            "OPSBOT_TELEGRAM__TOKEN": sim.token,
            "OPSBOT_TELEGRAM__BASE_URL": sim.base_url,
            "OPSBOT_TELEGRAM__BASE_FILE_URL": sim.base_file_url,
        }
    return env | extra


async def run_opsbot(*args: str, env: dict[str, str], limit: float = 120) -> tuple[int, str, str]:
    """Run `python -m bot.cli ARGS` without blocking the loop the simulator serves on."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args,
        env=env, cwd="/", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=limit)
    return proc.returncode, out.decode(), err.decode()


async def wait_for_answer(
    person: Persona,
    proc: asyncio.subprocess.Process | None = None,
    *,
    after: int = 0,
    what: str = "/start",
    limit: float = 30.0,
) -> None:
    """Wait until a bot in another process has sent `person` more than `after` messages; fails
    after `limit` seconds, or at once when `proc` has exited (its stderr says why)."""
    for _ in range(round(limit / 0.05)):
        if len(person.inbox) > after or (proc is not None and proc.returncode is not None):
            break
        await asyncio.sleep(0.05)
    assert len(person.inbox) > after, f"the bot did not answer {what}"


async def make_staff(sessions, persona, *roles: str) -> None:
    """Put a persona on the team directly (tests that are not about joining)."""
    from bot.services import staff as staff_service
    from bot.services.staff import Person

    name = " ".join(p for p in (persona.first_name, persona.last_name) if p)
    locale = "en" if (persona.language_code or "").startswith("en") else "zh"
    async with sessions() as s, s.begin():
        await staff_service.add(s, Person(persona.id, name, persona.username, locale), roles, None)


@asynccontextmanager
async def another_process(sim, settings, engine):
    """A second Application on the same database taking the simulator's updates from now on,
    as a restarted (or another) process would: nothing of the first one's memory is shared."""
    from telegram import Update

    from bot.app import build_application, shutdown, startup

    previous = sim.on_update
    app = build_application(settings, engine=engine, paced=False)  # as the `app` fixture
    await app.initialize()
    await startup(app)

    async def push(data: dict) -> None:
        await app.process_update(Update.de_json(data, app.bot))

    sim.on_update = push
    try:
        yield app
    finally:
        sim.on_update = previous
        app.bot_data.engine = None  # the engine belongs to the test's fixture
        await shutdown(app)
        await app.shutdown()
