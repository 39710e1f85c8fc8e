"""Filed reports: submit a draft once, keep every version, write the metrics KPIs read."""

from datetime import date, datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.calendar import Period
from bot.db import connection, insert_row
from bot.forms import fields as field_types
from bot.forms.spec import FormSpec
from bot.models import Draft, Metric, Obligation, Report, ReportVersion, Staff
from bot.services import audit, obligations
from bot.services.errors import ServiceError
from bot.states import ObligationStatus


class ReportError(ServiceError):
    """A draft that cannot be filed; `reason` picks the message."""


def missing_required(form: FormSpec, answers: dict[str, Any]) -> list[str]:
    """Keys of required fields without an answer."""
    return [f.key for f in form.fields if f.required and answers.get(f.key) in (None, "", [])]


class Submitted(NamedTuple):
    """A filed report, and whether its filer has a follow-up open that a report may close
    (approval_followups.filed need not look when not)."""

    report: Report
    followup_open: bool


async def submit(session: AsyncSession, draft: Draft, form: FormSpec, staff: Staff) -> Submitted:
    """File the draft: create or update the period's report, its version and metrics.

    The draft is deleted with a conditional DELETE on its version first, so two submits of the
    same draft (a double tap, two devices) file it exactly once.
    """
    missing = missing_required(form, draft.answers)
    if missing:
        raise ReportError("missing", fields=missing)
    keys = {"staff_id": staff.id, "form_key": form.key, "period_key": draft.period_key}
    gone = await session.execute(
        _draft_done(), {"draft_id": draft.id, "version": draft.version, **keys}
    )
    done = gone.first()
    if done is None:
        raise ReportError("already_submitted")
    now = clock.now()
    # The DELETE said whether the period has a report already: only a re-filing reads it.
    report = None if done.report_id is None else await existing(session, **keys)
    new = report is None
    if new:
        # Settled first, so the report is written once, already linked to its obligation.
        owed = await obligations.settle(session, staff.id, form.key, draft.period_key, now)
        report = await _create(session, draft, form, staff, now, owed)
    else:
        report.version += 1
        # Fields dropped from config since keep their stored labels (old answers stay readable).
        report.answers = dict(draft.answers)
        report.fields = {**report.fields, **field_types.fields_snapshot(form)}
        report.updated_at = now
    conn = await connection(session)  # never read back as an object: no ORM one (see _create)
    await conn.execute(
        _VERSION,
        dict(report_id=report.id, version=report.version, answers=report.answers, filed_at=now),
    )
    if not new:
        await _settle(session, report)
    await _write_metrics(session, report, form, replacing=not new)
    await audit.record(
        session,
        staff.telegram_id,
        "report.submit",
        f"report:{report.id}",
        form=form.key,
        period=report.period_key,
        version=report.version,
    )
    return Submitted(report, bool(done.followup_open))


async def _create(
    session: AsyncSession,
    draft: Draft,
    form: FormSpec,
    staff: Staff,
    now: datetime,
    owed: Obligation | None,
) -> Report:
    values = dict(
        staff_id=staff.id,
        form_key=form.key,
        period_key=draft.period_key,
        obligation_id=owed.id if owed else None,
        answers=dict(draft.answers),
        fields=field_types.fields_snapshot(form),
        version=1,
        late=owed is not None and owed.status == ObligationStatus.LATE,
        filed_at=now,
        updated_at=now,
    )
    return await insert_row(session, Report, values)


async def _settle(session: AsyncSession, report: Report) -> None:
    # Looked up now, not taken from the draft: the obligation may have been created after the
    # draft began (the first minute after joining). A tick creating it at this very moment and
    # this filing take turns (obligations.lock_period); the tick settles it if it comes second.
    obligation = await obligations.settle(
        session, report.staff_id, report.form_key, report.period_key, report.filed_at
    )
    if obligation is not None and report.obligation_id is None:
        report.obligation_id = obligation.id
        report.late = obligation.status == ObligationStatus.LATE


async def _write_metrics(
    session: AsyncSession, report: Report, form: FormSpec, *, replacing: bool
) -> None:
    if replacing:  # a new version's figures replace the old ones; a new report has none
        await session.execute(delete(Metric).where(Metric.report_id == report.id))
    start: date = Period.parse(report.period_key).start
    rows = []
    for field, group in form.metrics():
        if group is None:
            value = field_types.to_metric(field, report.answers.get(field.key))
        else:  # a figure per item (per platform): the report's figure is their sum
            value = field_types.group_sum(group, field, report.answers.get(group.key))
        if value is not None:
            rows.append(
                dict(report_id=report.id, staff_id=report.staff_id, form_key=form.key,
                     field_key=field.key, period_key=report.period_key, period_start=start,
                     value=value)
            )  # fmt: skip
    if rows:  # one executemany: ORM objects cost SQLite one INSERT each (ids read back)
        await session.execute(_METRICS, rows)


# Built once, each run with new parameters: every submit runs them (SQLAlchemy memoizes a
# statement's cache key; building and keying them afresh cost a submit ~1 ms; decision 67).
@cache
def _draft_done():
    # Built on first use (approval_followups imports this module). With the draft gone, in the
    # same statement: the period's report if one was filed, and whether a follow-up is open
    # (two reads every submit made after it, each a statement of its own).
    from bot.services.approval_followups import open_filed_through

    report = _EXISTING.with_only_columns(Report.id)
    return (
        delete(Draft)
        .where(Draft.id == bindparam("draft_id"), Draft.version == bindparam("version"))
        .returning(
            report.scalar_subquery().label("report_id"),
            open_filed_through(bindparam("staff_id")).label("followup_open"),
        )
    )


_METRICS = insert(Metric.__table__)  # the table's: the ORM would annotate it on every run
_VERSION = insert(ReportVersion.__table__)


async def existing(
    session: AsyncSession, staff_id: int, form_key: str, period_key: str
) -> Report | None:
    """The report of one person, form and period, if filed."""
    keys = {"staff_id": staff_id, "form_key": form_key, "period_key": period_key}
    return await session.scalar(_EXISTING, keys)


# Built once: every report and every submit asks for it (see staff._BY_TELEGRAM_ID).
_EXISTING = select(Report).where(
    Report.staff_id == bindparam("staff_id"),
    Report.form_key == bindparam("form_key"),
    Report.period_key == bindparam("period_key"),
)


async def versions(session: AsyncSession, report_id: int) -> list[ReportVersion]:
    """Every version of a report, oldest first."""
    return list(
        await session.scalars(
            select(ReportVersion)
            .where(ReportVersion.report_id == report_id)
            .order_by(ReportVersion.version)
        )
    )
