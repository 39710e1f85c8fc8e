"""Answers the bot writes into a new report: figures summed from earlier reports, the library.

A field's `prefill` names its source. `sum:<form>[:<field>]` is the sum of the filer's figures
of that form (the field of the same key unless named) over the draft's period: the month's
daily contracts for the monthly report. `channels:period` is the filer's channels in the
library by region and industry, and what they added, signed and delivered in the period —
stored as figures and keys, rendered for each reader like the week's feedback (decision 39).
"""

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar import Period
from bot.forms.fields import FieldContext
from bot.forms.spec import Choice, FieldSpec
from bot.models import Channel, ChannelStageChange, Metric
from bot.render import render
from bot.services import feedback

SUM = "sum"
LIBRARY = "channels:period"
# A channel counts as covered once signed; delivered ones too.
COVERED = ("signed", "live")


def is_known(source: str) -> bool:
    """Whether this module fills a field whose `prefill` is `source`."""
    return source == LIBRARY or source.split(":")[0] == SUM


async def value(session: AsyncSession, staff_id: int, spec: FieldSpec, period_key: str) -> Any:
    """The answer a new draft of `period_key` starts with for `spec` (None: nothing known)."""
    source = spec.prefill or ""
    period = Period.parse(period_key)
    if source == LIBRARY:
        return await library_value(session, staff_id, period)
    parts = source.split(":")
    if parts[0] == SUM and len(parts) in (2, 3):
        field_key = parts[2] if len(parts) == 3 else spec.key
        total = await period_sum(session, staff_id, parts[1], field_key, period)
        return _as_answer(spec, total)
    return None


async def period_sum(
    session: AsyncSession, staff_id: int, form_key: str, field_key: str, period: Period
) -> Decimal | None:
    """The filer's figures of one form's field over the period (None: no report gave one)."""
    return await session.scalar(
        select(func.sum(Metric.value)).where(
            Metric.staff_id == staff_id,
            Metric.form_key == form_key,
            Metric.field_key == field_key,
            Metric.period_start >= period.start,
            Metric.period_start <= period.end,
        )
    )


def _as_answer(spec: FieldSpec, total: Decimal | None) -> Any:
    if total is None:
        return None
    if spec.type == "int":
        return int(total)
    if spec.type == "money":  # metrics hold money in fen, as answers do
        return int(total)
    return str(total.normalize()) if spec.type == "decimal" else None


async def library_value(session: AsyncSession, staff_id: int, period: Period) -> dict[str, Any]:
    """The filer's channels by region and industry (all, covered), and the period's moves."""
    return {
        "generated": LIBRARY,
        "period_key": period.key,
        "regions": await _by(session, staff_id, Channel.region),
        "industries": await _by(session, staff_id, Channel.industry),
        "added": await _moves(session, staff_id, period.start, period.end, None),
        "signed": await _moves(session, staff_id, period.start, period.end, "signed"),
        "live": await _moves(session, staff_id, period.start, period.end, "live"),
    }


async def _by(session: AsyncSession, staff_id: int, column) -> list[list[Any]]:
    covered = func.sum(case((Channel.stage.in_(COVERED), 1), else_=0))
    rows = await session.execute(
        select(column, func.count(), covered)
        .where(Channel.owner_id == staff_id, Channel.stage != "lost")
        .group_by(column)
        .order_by(func.count().desc(), column)
    )
    return [[key, int(n), int(c or 0)] for key, n, c in rows]


async def _moves(
    session: AsyncSession, staff_id: int, start: date, end: date, to_stage: str | None
) -> int:
    """Distinct channels the filer added (to_stage None) or moved into a stage in the span."""
    change = ChannelStageChange
    moved = change.from_stage.is_(None) if to_stage is None else change.to_stage == to_stage
    if to_stage is not None:
        moved = moved & change.from_stage.is_not(None)
    return int(
        await session.scalar(
            select(func.count(distinct(change.channel_id))).where(
                change.by_staff_id == staff_id, change.day >= start, change.day <= end, moved
            )
        )
        or 0
    )


def is_library_value(answer: object) -> bool:
    """Whether a stored answer is library_value's figures (not text someone typed)."""
    return isinstance(answer, dict) and answer.get("generated") == LIBRARY


def library_text(answer: dict[str, Any], ctx: FieldContext) -> str:
    """The library's figures as plain text in the reader's language, with the team's labels."""
    return render(
        "channel_period.txt.j2",
        ctx.locale,
        regions=_labelled(answer.get("regions") or [], ctx.regions, ctx.locale),
        industries=_labelled(answer.get("industries") or [], ctx.industries, ctx.locale),
        total=sum(int(row[1]) for row in answer.get("regions") or []),
        covered=sum(int(row[2]) for row in answer.get("regions") or []),
        added=int(answer.get("added") or 0),
        signed=int(answer.get("signed") or 0),
        live=int(answer.get("live") or 0),
    )


def _labelled(rows: list[list[Any]], choices: tuple[Choice, ...], locale: str) -> list:
    labels = {c.key: c.label.get(locale) for c in choices}
    return [(labels.get(key, key), int(n), int(c)) for key, n, c in rows]


def generated_text(answer: object, ctx: FieldContext) -> str | None:
    """A pre-fill the bot stored as figures, as text for this reader; None for typed answers."""
    if feedback.is_week_value(answer):
        return feedback.week_text(answer, ctx.locale)
    if is_library_value(answer):
        return library_text(answer, ctx)
    return None
