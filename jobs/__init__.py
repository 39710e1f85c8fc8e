"""Thin scheduled layer: the minute tick enqueues what is due; the sender job sends it."""

from telegram.ext import Application

from jobs.send import send_job
from jobs.tick import tick_job

TICK_SECONDS = 60
# A row refused with 429 is due again after retry_after (seconds): waiting for the next minute's
# tick would turn a one-second pause into a minute, so the sender runs on its own, often.
SEND_SECONDS = 2


def register(app: Application) -> None:
    """Schedule the tick and the sender on PTB's JobQueue."""
    app.job_queue.run_repeating(tick_job, interval=TICK_SECONDS, first=5, name="tick")
    # Two instances may overlap: the second finds the first sending and returns (jobs/send.py).
    app.job_queue.run_repeating(send_job, interval=SEND_SECONDS, first=1, name="send",
                                job_kwargs={"max_instances": 2})  # fmt: skip
