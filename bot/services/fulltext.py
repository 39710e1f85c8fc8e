"""One answer of a draft, report or plan in full, for the "whole text" button under its card."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.fields import FieldContext
from bot.forms.spec import ReportsConfig
from bot.forms.summary import answer_items, snapshot_items
from bot.models import ActivityPlan, Draft, Report, Staff
from bot.services import leave

KINDS = ("d", "r", "p")  # a draft (its filer), a report, an activity plan


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
