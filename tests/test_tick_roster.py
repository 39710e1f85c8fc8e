"""The minute tick looks for people without their obligations only when the roster changed
(decision 67, fifth round): every change that can make someone owe is seen at the next tick,
whoever made it, and a quiet minute reads nobody."""

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import delete, event, insert, select, text, update
from support import local, make_staff

from bot import clock
from bot.cli.jobs import dry_run
from bot.models import Leave, Obligation, Staff, StaffRole
from bot.services import staff as staff_service
from jobs.tick import tick

pytestmark = pytest.mark.databases

DAY = "2026-11-26"  # a Thursday: today's daily report is due at 18:00, the week's on Friday
DAILY = "daily_channel"
CLI_ACTOR = None


async def tick_at(app, when: str) -> None:
    with time_machine.travel(local(when), tick=False):
        await tick(app.bot_data, app.bot)


async def join(sessions, persona, *roles: str, at: str = f"{DAY} 09:00") -> None:
    with time_machine.travel(local(at), tick=False):
        await make_staff(sessions, persona, *roles)


async def owed(sessions, persona) -> set[tuple[str, str]]:
    """(form, period) of each obligation the persona has, whatever its status."""
    async with sessions() as s:
        rows = await s.execute(
            select(Obligation.form_key, Obligation.period_key)
            .join(Staff, Staff.id == Obligation.staff_id)
            .where(Staff.telegram_id == persona.id)
        )
        return set(rows.all())


async def person(sessions, persona) -> Staff:
    async with sessions() as s:
        return await s.scalar(select(Staff).where(Staff.telegram_id == persona.id))


@pytest.fixture
async def quiet(app, sessions, channel_manager):
    """A channel manager owing today's reports, and two ticks: the second had nothing to do."""
    await join(sessions, channel_manager, "channel")
    await tick_at(app, f"{DAY} 10:00")
    await tick_at(app, f"{DAY} 10:01")
    return await owed(sessions, channel_manager)


async def test_a_minute_with_an_unchanged_roster_reads_nobody(app, engine, quiet):
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await tick_at(app, f"{DAY} 10:02")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    # What looks for people without their row: an anti-join from staff to obligations.
    owers = [s for s in seen if "FROM staff" in s and "NOT (EXISTS" in s]
    assert owers == [], "\n".join(owers)
    assert quiet  # the first tick did create the channel manager's obligations


async def test_a_newcomer_added_after_a_quiet_tick_owes_at_the_next(
    app, sessions, quiet, user_ops_manager
):
    await join(sessions, user_ops_manager, "channel", at=f"{DAY} 10:03")  # `opsbot staff add`
    await tick_at(app, f"{DAY} 10:04")
    assert await owed(sessions, user_ops_manager) == quiet


async def test_a_newcomer_approved_after_a_quiet_tick_owes_exactly_what_a_colleague_owes(
    app, sim, sessions, quiet, director
):
    """The approval makes their obligations at once (create_ahead for them alone); the next
    tick, with the roster changed, finds them complete and adds nothing twice."""
    newcomer = sim.user(id=2010, first_name="赵", last_name="六", language_code="zh")
    with time_machine.travel(local(f"{DAY} 10:03"), tick=True):
        await director.send("/start")
        await newcomer.send("/start")
        await newcomer.press(newcomer.inbox[-1], "渠道拓展经理")
        await director.press(director.inbox[-1], "✅ 批准")
    assert "欢迎加入团队" in newcomer.inbox[-1].plain
    await tick_at(app, f"{DAY} 10:05")
    assert await owed(sessions, newcomer) == quiet


async def test_a_person_added_by_another_process_owes_at_the_next_tick(
    app, engine, sessions, quiet
):
    """A replica or a script writing SQL: nothing of this process hears of it."""
    joined = clock.parse_local(f"{DAY} 09:00", app.bot_data.settings.team.tz)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO staff (telegram_id, display_name, locale, active, joined_at) "
                "VALUES (4242, '新人', 'zh', true, :at)"
            ),
            {"at": joined.replace(tzinfo=None) if engine.dialect.name == "sqlite" else joined},
        )
        await conn.execute(
            text(
                "INSERT INTO staff_roles (staff_id, role) "
                "SELECT id, 'channel' FROM staff WHERE telegram_id = 4242"
            )
        )
    await tick_at(app, f"{DAY} 10:04")

    class Newcomer:
        id = 4242

    assert await owed(sessions, Newcomer) == quiet


async def test_a_reactivated_person_owes_again_at_the_next_tick(
    app, sessions, channel_manager, user_ops_manager
):
    await join(sessions, channel_manager, "channel")
    await join(sessions, user_ops_manager, "channel")
    async with sessions() as s, s.begin():
        lina = await s.scalar(select(Staff).where(Staff.telegram_id == user_ops_manager.id))
        await staff_service.deactivate(s, lina, CLI_ACTOR)
    await tick_at(app, f"{DAY} 10:00")
    await tick_at(app, f"{DAY} 10:01")
    assert await owed(sessions, user_ops_manager) == set()
    async with sessions() as s, s.begin():
        lina = await s.scalar(select(Staff).where(Staff.telegram_id == user_ops_manager.id))
        await staff_service.reactivate(s, lina, CLI_ACTOR)
    await tick_at(app, f"{DAY} 10:02")
    assert await owed(sessions, user_ops_manager) == await owed(sessions, channel_manager)


async def test_a_role_added_after_a_quiet_tick_owes_its_forms_at_the_next(
    app, sessions, quiet, channel_manager, user_ops_manager
):
    await join(sessions, user_ops_manager, "user_ops")
    await tick_at(app, f"{DAY} 10:02")
    await tick_at(app, f"{DAY} 10:03")
    user_ops_only = await owed(sessions, user_ops_manager)
    async with sessions() as s, s.begin():
        lina = await s.scalar(select(Staff).where(Staff.telegram_id == user_ops_manager.id))
        await staff_service.set_roles(s, lina, ["user_ops", "channel"], CLI_ACTOR)
    await tick_at(app, f"{DAY} 10:04")
    assert await owed(sessions, user_ops_manager) == user_ops_only | quiet


async def test_a_cancelled_leave_makes_the_person_owe_at_the_next_tick(
    app, sessions, channel_manager
):
    await join(sessions, channel_manager, "channel")
    wei = await person(sessions, channel_manager)
    async with sessions() as s, s.begin():
        s.add(
            Leave(
                staff_id=wei.id,
                start_date=local(f"{DAY} 10:00").date() + timedelta(days=1),
                end_date=local(f"{DAY} 10:00").date() + timedelta(days=1),
                created_at=clock.now(),
            )
        )
    await tick_at(app, f"{DAY} 10:00")
    await tick_at(app, f"{DAY} 10:01")
    assert (DAILY, "2026-11-27") not in await owed(sessions, channel_manager)
    async with sessions() as s, s.begin():
        await s.execute(delete(Leave).where(Leave.staff_id == wei.id))
    await tick_at(app, f"{DAY} 10:02")
    assert (DAILY, "2026-11-27") in await owed(sessions, channel_manager)


async def test_an_earlier_joining_time_makes_the_person_owe_today_at_the_next_tick(
    app, sessions, channel_manager
):
    await join(sessions, channel_manager, "channel", at=f"{DAY} 18:30")  # after today's due time
    wei = await person(sessions, channel_manager)
    await tick_at(app, f"{DAY} 18:31")
    await tick_at(app, f"{DAY} 18:32")
    assert (DAILY, DAY) not in await owed(sessions, channel_manager)
    async with sessions() as s, s.begin():  # a correction: they had joined that morning
        await s.execute(
            update(Staff).where(Staff.id == wei.id).values(joined_at=local(f"{DAY} 09:00"))
        )
    await tick_at(app, f"{DAY} 18:33")
    assert (DAILY, DAY) in await owed(sessions, channel_manager)


async def test_a_removed_obligation_is_owed_again_at_the_next_tick(
    app, sessions, quiet, channel_manager
):
    async with sessions() as s, s.begin():
        await s.execute(delete(Obligation).where(Obligation.period_key == DAY))
    await tick_at(app, f"{DAY} 10:02")
    assert await owed(sessions, channel_manager) == quiet


async def test_a_role_removed_and_given_back_owes_nothing_twice(
    app, sessions, quiet, channel_manager
):
    """Bulk role rows: removing a role owes nothing new, giving it back owes what is missing."""
    wei = await person(sessions, channel_manager)
    async with sessions() as s, s.begin():
        await s.execute(delete(StaffRole).where(StaffRole.staff_id == wei.id))
        await s.execute(delete(Obligation).where(Obligation.staff_id == wei.id))
    await tick_at(app, f"{DAY} 10:02")
    assert await owed(sessions, channel_manager) == set()
    async with sessions() as s, s.begin():
        s.add(StaffRole(staff_id=wei.id, role="channel"))
    await tick_at(app, f"{DAY} 10:03")
    assert await owed(sessions, channel_manager) == quiet


async def test_a_dry_run_does_not_make_the_tick_forget_a_newcomer(
    app, sessions, quiet, user_ops_manager
):
    """`opsbot jobs due` runs the tick's code in a transaction it rolls back: the obligations it
    saw created were never there."""
    await join(sessions, user_ops_manager, "channel")
    with time_machine.travel(local(f"{DAY} 10:03"), tick=False):
        changes = await dry_run(app.bot_data, clock.now())
    assert len(changes.created) == len(quiet)  # it would create the newcomer's obligations
    assert await owed(sessions, user_ops_manager) == set()
    await tick_at(app, f"{DAY} 10:04")
    assert await owed(sessions, user_ops_manager) == quiet


async def test_the_roster_version_moves_with_what_can_make_someone_owe_and_nothing_else(
    engine, sessions, channel_manager
):
    """The triggers of migration 0020: every write that can make someone owe raises the number;
    the writes of every minute (reminders, filing, the sender) do not, or the tick would look
    for everyone every minute again."""
    await join(sessions, channel_manager, "channel")
    wei = await person(sessions, channel_manager)
    day = local(f"{DAY} 10:00")

    async def moved(*statements) -> bool:
        async with engine.begin() as conn:
            before = await conn.scalar(text("SELECT version FROM roster_version"))
            for statement in statements:
                await conn.execute(statement)
            return await conn.scalar(text("SELECT version FROM roster_version")) != before

    this = Staff.id == wei.id
    assert await moved(update(Staff).where(this).values(active=False))
    assert await moved(update(Staff).where(this).values(active=True))
    assert await moved(update(Staff).where(this).values(joined_at=day))
    assert await moved(update(Staff).where(this).values(locale="en"))
    assert not await moved(update(Staff).where(this).values(unreachable_since=day))
    assert not await moved(update(Staff).where(this).values(display_name="王伟", active=True))
    assert await moved(update(StaffRole).where(StaffRole.staff_id == wei.id).values(role="x"))
    assert await moved(delete(StaffRole).where(StaffRole.staff_id == wei.id))
    leave = dict(staff_id=wei.id, start_date=day.date(), end_date=day.date(), created_at=day)
    assert await moved(insert(Leave).values(leave))
    assert await moved(update(Leave).values(end_date=day.date() + timedelta(days=1)))
    assert await moved(delete(Leave))
    owed_row = dict(staff_id=wei.id, form_key=DAILY, period_key=DAY, due_at=day, closes_at=day,
                    status="open", reminder_step=0, created_at=day)  # fmt: skip
    assert not await moved(insert(Obligation).values(owed_row))
    assert not await moved(update(Obligation).values(status="filed", reminder_step=2))
    assert await moved(update(Obligation).values(period_key="2026-11-27"))
    assert await moved(delete(Obligation))
