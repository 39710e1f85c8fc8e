"""One answer of a draft, report, plan or request in full, for the "whole text" button under
its card."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.fields import FieldContext
from bot.forms.spec import ReportsConfig
from bot.forms.summary import answer_items, snapshot_items
from bot.models import ActivityPlan, ApprovalRequest, Draft, Outbox, Report, Staff
from bot.outbox import keys_starting
from bot.services import leave

KINDS = ("d", "r", "p", "q")  # a draft (its filer), a report, an activity plan, a request


async def answer(
    session: AsyncSession,
    me: Staff,
    kind: str,
    object_id: int,
    key: str,
    reports: ReportsConfig,
    today: date,
) -> tuple[str, str] | None:
    """(label, whole text) of one answer, or None when it is gone or not `me`'s to read.

    `today` is the team-local day (a deputy reads a plan only on a day they stand in).
    """
    ctx = FieldContext(
        locale=me.locale, today=today,
        regions=reports.regions, industries=reports.industries,
    )  # fmt: skip
    items: list[tuple[str, str, str]] = []
    if kind == "d":
        draft = await session.get(Draft, object_id)
        form = reports.form(draft.form_key) if draft is not None else None
        if draft is not None and form is not None and draft.staff_id == me.id:
            items = answer_items(form, draft.answers, ctx)
    elif kind == "r":
        report = await session.get(Report, object_id)
        if report is not None and await _may_read_report(me, report, reports):
            items = _report_items(report, reports, ctx)
    elif kind == "p":
        plan = await session.get(ActivityPlan, object_id)
        if plan is not None and await _may_read_plan(session, me, plan, today):
            items = snapshot_items(plan.fields, plan.answers, ctx)
    elif kind == "q":
        request = await session.get(ApprovalRequest, object_id)
        if request is not None and await _may_read_request(session, me, request, today):
            items = snapshot_items(request.fields, request.answers, ctx)
    return next(((label, text) for k, label, text in items if k == key), None)


def _report_items(
    report: Report, reports: ReportsConfig, ctx: FieldContext
) -> list[tuple[str, str, str]]:
    # Reports filed before labels were kept with them take their labels from the config.
    if report.fields:
        return snapshot_items(report.fields, report.answers, ctx)
    form = reports.form(report.form_key)
    return answer_items(form, report.answers, ctx) if form is not None else []


async def _may_read_report(me: Staff, report: Report, reports: ReportsConfig) -> bool:
    # A report announced to the team group is the team's to read; otherwise the filer's and
    # the directors'.
    form = reports.form(report.form_key)
    announced = form is not None and "group" in form.announce
    return report.staff_id == me.id or me.has_role("director") or announced


async def _may_read_plan(session: AsyncSession, me: Staff, plan: ActivityPlan, today: date) -> bool:
    if plan.proposer_id == me.id or me.has_role("director"):
        return True
    return bool(await leave.acting_for(session, me.id, today))


async def _may_read_request(
    session: AsyncSession, me: Staff, request: ApprovalRequest, today: date
) -> bool:
    # The proposer, the directors (and deputies standing in), and whoever was sent its card.
    if request.proposer_id == me.id or me.has_role("director"):
        return True
    if await leave.acting_for(session, me.id, today):
        return True
    sent = await session.scalar(
        select(Outbox.id)
        .where(
            keys_starting(session, f"req:{request.id}:v"),
            Outbox.dedup_key.like(f"req:{request.id}:v%:card:{me.telegram_id}"),
        )
        .limit(1)
    )
    return sent is not None
