"""Prometheus metrics of this process: one registry, and the small hooks that feed it."""

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

# Our own registry rather than prometheus_client's global one: what /metrics shows is exactly
# what this module declares (plus the process's CPU and memory), whatever else gets imported.
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

UPDATE_TYPES = ("message", "callback_query", "edited_message", "my_chat_member", "other")
SEND_ERROR_KINDS = ("retry", "permanent", "rate_limited")

UPDATES = Counter(
    "opsbot_updates", "Updates received from Telegram, by type.", ["type"], registry=REGISTRY
)
HANDLER_SECONDS = Histogram(
    "opsbot_handler_seconds", "Time to handle one update (every handler group).", registry=REGISTRY
)
OUTBOX_BACKLOG = Gauge(
    "opsbot_outbox_backlog",
    "Outbox rows pending or being sent (read on scrape).",
    registry=REGISTRY,
)
OUTBOX_SEND_ERRORS = Counter(
    "opsbot_outbox_send_errors",
    "Outbox sends that failed: retried later, given up, or refused with 429.",
    ["kind"],
    registry=REGISTRY,
)
OUTBOX_SENT = Counter("opsbot_outbox_sent", "Outbox rows Telegram accepted.", registry=REGISTRY)
TICK_SECONDS = Histogram(
    "opsbot_tick_seconds",
    "Duration of the minute tick (enqueue what is due, then deliver).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
LAST_TICK = Gauge(
    "opsbot_last_tick_timestamp_seconds",
    "Unix time at which the last successful tick finished.",
    registry=REGISTRY,
)

# Every label value shows from the first scrape, as 0: a rate() over a series that appears
# only with its first event misses that event.
for _type in UPDATE_TYPES:
    UPDATES.labels(_type)
for _kind in SEND_ERROR_KINDS:
    OUTBOX_SEND_ERRORS.labels(_kind)


def update_type(update: Any) -> str:
    """The label for an update: the kinds this bot handles, or 'other'."""
    for kind in UPDATE_TYPES[:-1]:
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


@contextmanager
def handling(update: Any) -> Iterator[None]:
    """Count an update and time its handling."""
    UPDATES.labels(update_type(update)).inc()
    started = time.perf_counter()
    try:
        yield
    finally:
        HANDLER_SECONDS.observe(time.perf_counter() - started)


def count_send(result: Any, *, gave_up: bool) -> None:
    """Record one outbox send's outcome (a sender.SendResult); `gave_up`: no attempt is left.

    The branches follow sender._mark, so each kind matches what happened to the row.
    """
    if result.error is None:
        OUTBOX_SENT.inc()
    elif result.migrate_to is not None:  # the group became a supergroup: sent again there
        OUTBOX_SEND_ERRORS.labels("retry").inc()
    elif result.unreachable or result.permanent or gave_up:
        OUTBOX_SEND_ERRORS.labels("permanent").inc()
    elif result.retry_after is not None:
        OUTBOX_SEND_ERRORS.labels("rate_limited").inc()
    else:
        OUTBOX_SEND_ERRORS.labels("retry").inc()


T = TypeVar("T")


def timed_tick(func: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Decorate the tick: time every run; a run that finishes stamps the last-tick gauge."""

    @wraps(func)
    async def timed(*args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            result = await func(*args, **kwargs)
        finally:
            TICK_SECONDS.observe(time.perf_counter() - started)
        LAST_TICK.set(time.time())
        return result

    return timed


def set_backlog(rows: int) -> None:
    """Refresh the outbox backlog gauge (done on each scrape, from the database)."""
    OUTBOX_BACKLOG.set(rows)


def exposition() -> bytes:
    """The registry in Prometheus' text format."""
    return generate_latest(REGISTRY)
