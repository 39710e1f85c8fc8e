"""The same update delivered twice has one effect."""

from sqlalchemy import func, select

from bot.models import Invite


async def test_a_redelivered_command_is_answered_once(app, sim, director):
    await director.send("/start")
    await director.send("/help")
    replies = len(director.inbox)

    await sim.inject(sim.updates[-1])

    assert len(director.inbox) == replies


async def test_a_redelivered_invite_command_creates_one_invite(app, sim, sessions, director):
    await director.send("/start")
    await director.send("/invite channel")
    await sim.inject(sim.updates[-1])
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Invite)) == 1
