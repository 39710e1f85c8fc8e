"""The sender re-checks "still wanted?" even in a process that imports nothing but the sender."""

import asyncio
import re
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from support import make_staff

from bot import clock, sender
from bot.forms.spec import default_reports
from bot.models import Obligation, Outbox, Staff
from bot.services import reminders

SENDER = Path(__file__).with_name("sender_process.py")
BOT = Path(__file__).resolve().parent.parent / "bot"


async def test_a_sender_process_of_its_own_drops_a_settled_reminder_and_sends_an_open_one(
    sim, sessions, db_url
):
    filed, late = (
        sim.user(id=61_001, first_name="已交", language_code="zh"),
        sim.user(id=61_002, first_name="未交", language_code="zh"),
    )
    for person in (filed, late):
        person.started = True
        await make_staff(sessions, person, "channel")
    async with sessions() as s, s.begin():
        obligations = [await _overdue(s, person.id) for person in (filed, late)]
    async with sessions() as s, s.begin():
        staff = {o.id: await s.get(Staff, o.staff_id) for o in obligations}
        nags = [
            reminders.Nag(o, staff[o.id], reminders.OVERDUE, o.due_at, ZoneInfo("Asia/Shanghai"))
            for o in obligations
        ]
        assert await reminders.send_nags(s, nags, default_reports()) == 2
    async with sessions() as s, s.begin():  # filed after its reminder was queued
        (await s.get(Obligation, obligations[0].id)).status = "filed"

    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SENDER), db_url, sim.base_url, sim.token,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()[-2000:]

    assert not filed.inbox, "a reminder for a filed report was sent"
    assert len(late.inbox) == 1 and out.decode().split()[-1] == "1"
    async with sessions() as s:
        rows = {r.chat_id: r for r in await s.scalars(select(Outbox))}
    assert rows[filed.id].status == "cancelled"
    assert rows[filed.id].last_error == f"no longer wanted: obl:{obligations[0].id}"
    assert rows[late.id].status == "sent"


async def _overdue(session, telegram_id: int) -> Obligation:
    """Today's daily report, due an hour ago and not filed."""
    person = await session.scalar(select(Staff).where(Staff.telegram_id == telegram_id))
    now = clock.now()
    obligation = Obligation(
        staff_id=person.id, form_key="daily_channel", period_key=now.date().isoformat(),
        due_at=now - timedelta(hours=1), closes_at=now + timedelta(hours=18), created_at=now,
    )  # fmt: skip
    session.add(obligation)
    await session.flush()
    return obligation


def test_every_about_the_services_queue_has_a_check_in_the_sender():
    """A row's `about` is there to be re-checked: a prefix without a check would go out stale."""
    queued = set()
    for path in BOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        queued |= set(re.findall(r'about=f"(\w+):', text))
        # An approval presenter's about() (activity plans' "act", decision 65).
        queued |= set(
            re.findall(r'def about\(self.*\n(?:\s+(?:#|""").*\n)*\s+return f"(\w+):', text)
        )
    assert {"join", "obl", "act", "tasknag"} <= queued <= set(sender.WANTED_CHECKS)
