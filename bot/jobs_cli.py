"""`opsbot jobs run tick --at …`: one tick at a chosen moment, deliver, exit."""

from datetime import datetime, timedelta

from bot import clock
from bot.app import build_application, shutdown, startup
from bot.config import Settings
from jobs.tick import TickReport, tick


async def run_tick_once(settings: Settings, at: datetime | None) -> TickReport:
    """Start the app without polling, run one tick at `at`, send what it enqueued, stop."""
    if at is not None:
        clock.start_at(at)
    app = build_application(settings)
    await app.initialize()
    try:
        await startup(app)
        return await tick(app.bot_data, app.bot)
    finally:
        await shutdown(app)
        await app.shutdown()


async def list_due(settings: Settings, at: datetime | None) -> list[str]:
    """What a tick at `at` would send, and why — read-only (the transaction is rolled back)."""
    from sqlalchemy import select

    from bot.calendar import WorkCalendar
    from bot.db import make_engine, make_sessionmaker
    from bot.migrate import upgrade
    from bot.models import ActivityPlan, Obligation
    from bot.services import reminders

    if at is not None:
        clock.start_at(at)
    tz, cfg = settings.team.tz, settings.reminders
    cal = WorkCalendar(settings.calendar.extra_holidays, settings.calendar.extra_workdays)
    engine = make_engine(settings.database.url)
    lines: list[str] = []
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine)() as session:
            now = clock.now()
            if reminders.quiet(now, tz, cfg):
                lines.append(f"quiet hours ({cfg.quiet_start}–{cfg.quiet_end}): reminders wait")
            for nag in await reminders.due_nags(session, cal, tz, cfg):
                lines.append(
                    f"remind {nag.staff.display_name} ({nag.staff.telegram_id}): "
                    f"{nag.obligation.form_key} {nag.obligation.period_key} — "
                    f"{reminders.STEP_NAMES[nag.step]} step, due since "
                    f"{nag.at.astimezone(tz):%Y-%m-%d %H:%M}"
                )
            closing = await session.scalars(
                select(Obligation).where(Obligation.status == "open", Obligation.closes_at <= now)
            )
            for o in closing:
                lines.append(f"close as missed: staff #{o.staff_id} {o.form_key} {o.period_key}")
            soon = now + timedelta(minutes=cfg.approval_before_minutes)
            plans = await session.scalars(
                select(ActivityPlan).where(
                    ActivityPlan.status == "pending", ActivityPlan.decide_by <= soon
                )
            )
            for plan in plans:
                lines.append(
                    f"approval reminder: plan #{plan.id} “{plan.title}”, decide by "
                    f"{plan.decide_by.astimezone(tz):%Y-%m-%d %H:%M}"
                )
            await session.rollback()
    finally:
        await engine.dispose()
    return lines or ["nothing is due"]
