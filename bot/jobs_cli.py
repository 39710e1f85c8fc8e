"""`opsbot jobs run tick --at …`: one tick at a chosen moment, deliver, exit."""

from datetime import datetime

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
