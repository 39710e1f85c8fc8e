"""services/digest_schedule.py: which digest is due when, for which period, and only once."""

from datetime import timedelta

from kpi_data import local

from bot.calendar import Period, WorkCalendar
from bot.outbox import enqueue
from bot.services.digest_schedule import MIN_GRACE, Due, already_queued, due_now, last_fire

GROUP = -8001


def test_a_fire_is_caught_within_the_minimum_grace_even_with_none_configured(settings):
    tz = settings.team.tz
    fired = local("2026-11-30 09:00")
    assert last_fire("0 9 * * mon", tz, fired + MIN_GRACE, timedelta(0)) == fired
    assert (
        last_fire("0 9 * * mon", tz, fired + MIN_GRACE + timedelta(seconds=1), timedelta(0)) is None
    )


def test_of_two_fires_within_the_grace_the_latest_is_the_one(settings):
    fires = last_fire(
        "*/10 * * * *", settings.team.tz, local("2026-11-30 09:25"), timedelta(hours=1)
    )
    assert fires == local("2026-11-30 09:20")


def test_a_digest_without_a_schedule_is_never_due(settings):
    schedule = settings.kpi.digests.model_copy(update={"weekly": None})
    kpi = settings.kpi.model_copy(update={"digests": schedule})
    off = settings.model_copy(update={"kpi": kpi})
    assert [d.kind for d in due_now(settings, WorkCalendar(), local("2026-11-30 09:00:40"))] == [
        "weekly"
    ]
    assert due_now(off, WorkCalendar(), local("2026-11-30 09:00:40")) == []


def test_the_key_names_the_kind_and_the_period():
    due = Due("weekly", Period.parse("2026-W48"), local("2026-11-30 09:00"))
    assert due.key == "digest:weekly:2026-W48"


async def test_a_digest_is_queued_once_per_period(sessions):
    week48 = Due("weekly", Period.parse("2026-W48"), local("2026-11-30 09:00"))
    week49 = Due("weekly", Period.parse("2026-W49"), local("2026-12-07 09:00"))
    async with sessions() as session, session.begin():
        assert not await already_queued(session, week48)
        await enqueue(session, f"{week48.key}:chart", GROUP, "only the chart")
        assert not await already_queued(session, week48)  # the text's key is the digest's
        await enqueue(session, week48.key, GROUP, "the week's digest")
        assert await already_queued(session, week48)
        assert not await already_queued(session, week49)
