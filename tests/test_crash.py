"""kill -9 in the middle of a fan-out: nothing is lost, duplicates only in the documented window."""

import asyncio
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import clock, outbox, sender
from bot.models import Outbox
from bot.telegram_io import TelegramTransport

pytestmark = [pytest.mark.databases, pytest.mark.slow]

FAN_OUT = 200
CHATS = 50


async def test_kill_9_mid_fan_out_then_restart_loses_nothing(app, sim, sessions, db_url):
    people = [sim.user(id=30_000 + i, first_name=f"P{i}") for i in range(CHATS)]
    for person in people:
        person.started = True
    async with sessions() as s, s.begin():
        for n in range(FAN_OUT):
            await outbox.enqueue(s, f"fan:{n}", people[n % CHATS].id, f"reminder {n}")

    victim = await _sender(sim, db_url)
    await asyncio.wait_for(victim.stdout.readline(), timeout=60)
    for _ in range(600):
        if _delivered(sim, people) >= FAN_OUT // 3:
            break
        await asyncio.sleep(0.01)
    if victim.returncode is None:
        victim.send_signal(signal.SIGKILL)
    await victim.wait()
    assert victim.returncode == -signal.SIGKILL, (await victim.stderr.read()).decode()[-2000:]
    before_restart = _delivered(sim, people)
    assert 0 < before_restart < FAN_OUT, "the kill must land mid-fan-out"

    # The dead process's claims and sender lease expire; a new sender takes over.
    clock.start_at(clock.now() + sender.SENDER_LEASE + sender.CLAIM_LEASE)
    while await sender.deliver(sessions, TelegramTransport(app.bot), holder="restarted"):
        pass

    counts = Counter(m.plain for p in people for m in p.inbox)
    assert set(counts) == {f"reminder {n}" for n in range(FAN_OUT)}  # none lost
    duplicates = sum(c - 1 for c in counts.values())
    assert duplicates <= 1  # at most the one sent but not yet marked when the kill landed
    async with sessions() as s:
        unsent = await s.scalar(
            select(func.count()).select_from(Outbox).where(Outbox.status != "sent")
        )
    assert unsent == 0
    print(f"killed after {before_restart} of {FAN_OUT}; duplicates after restart: {duplicates}")


def _delivered(sim, people) -> int:
    return sum(len(p.inbox) for p in people)


async def test_two_sender_processes_at_once_send_each_row_exactly_once(app, sim, sessions, db_url):
    people = [sim.user(id=40_000 + i, first_name=f"Q{i}") for i in range(CHATS)]
    for person in people:
        person.started = True
    async with sessions() as s, s.begin():
        for n in range(FAN_OUT):
            await outbox.enqueue(s, f"pair:{n}", people[n % CHATS].id, f"digest {n}")

    # Both use one holder name, so both pass the sender lease and race on every row's claim.
    senders = [await _sender(sim, db_url) for _ in range(2)]
    shares = []
    for proc in senders:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
        shares.append(int(out.decode().split("sent ")[1]))
    assert sum(shares) == FAN_OUT and min(shares) > 0, shares  # both really sent

    counts = Counter(m.plain for p in people for m in p.inbox)
    assert counts == Counter({f"digest {n}": 1 for n in range(FAN_OUT)})
    assert sum(1 for c in sim.calls if c.method == "sendMessage" and c.ok) == FAN_OUT


async def _sender(sim, db_url: str) -> asyncio.subprocess.Process:
    script = Path(__file__).with_name("sender_process.py")
    return await asyncio.create_subprocess_exec(
        sys.executable, str(script), db_url, sim.base_url, sim.token,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
