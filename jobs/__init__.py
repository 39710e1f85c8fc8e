"""Thin scheduled layer: one tick a minute asks the services what is due and enqueues it."""

from telegram.ext import Application

from jobs.tick import tick_job

TICK_SECONDS = 60


def register(app: Application) -> None:
    """Schedule the tick on PTB's JobQueue."""
    app.job_queue.run_repeating(tick_job, interval=TICK_SECONDS, first=5, name="tick")
