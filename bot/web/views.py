"""What each dashboard page shows, as JSON: read from the same services the chat commands use."""

import html
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.calendar import Period, WorkCalendar, local_date
from bot.config import Settings
from bot.forms.summary import period_label
from bot.i18n import t
from bot.models import Staff
from bot.render import environment, render
from bot.services import approvals, channels, feedback, kpi, kpi_view, periods, pipeline, roster
from bot.services import staff as staff_service
from bot.services import tasks as task_service
from bot.states import Decision
from bot.web import plans

PERIOD_KINDS = ("week", "month", "quarter")
TREND = 6  # periods on the trend chart, the shown one last
# The answers a card offers, as the chat's buttons do: a suggestion is adopted, kept on file
# (noted) or declined; anything else approved, rejected or sent back for changes.
DECISIONS = (Decision.APPROVE, Decision.REJECT, Decision.CHANGES)
SUGGESTION = (Decision.APPROVE, Decision.NOTE, Decision.REJECT)
_TAGS = re.compile(r"<[^>]+>")


class Forbidden(Exception):
    """The viewer may not see this (another person's numbers, a director's page)."""


class NotFound(Exception):
    """No such thing (a channel, a period) to show."""


@dataclass(frozen=True)
class Viewer:
    """Who is looking: their staff row, and whether they see the team."""

    staff: Staff

    @property
    def director(self) -> bool:
        return self.staff.has_role("director")

    @property
    def locale(self) -> str:
        return self.staff.locale


def today_of(settings: Settings) -> date:
    """The team-local day now."""
    return local_date(clock.now(), settings.team.tz)


def plain(telegram_html: str) -> str:
    """A Telegram HTML text (a card) as plain text the page shows escaped."""
    return html.unescape(_TAGS.sub("", telegram_html))


def _at(moment, settings: Settings, locale: str) -> str | None:
    # The same "12月1日 18:00" the chat shows.
    return None if moment is None else environment(locale).filters["at"](moment, settings.team.tz)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# ---- the page itself --------------------------------------------------------------------------


def me(viewer: Viewer) -> dict[str, Any]:
    """The viewer, the tabs they see and the page's words in their language."""
    tabs = ["today", "kpi", "channels", "approvals"] + (["feedback"] if viewer.director else [])
    return {
        "name": viewer.staff.display_name,
        "id": viewer.staff.id,
        "locale": viewer.locale,
        "director": viewer.director,
        "tabs": tabs,
        "strings": strings(viewer.locale),
    }


def strings(locale: str) -> dict[str, str]:
    """Every word the page's script shows, translated (templates/web/strings.json.j2)."""
    return json.loads(render("web/strings.json.j2", locale))


# ---- 今天 -------------------------------------------------------------------------------------


async def today(
    session: AsyncSession, settings: Settings, cal: WorkCalendar, viewer: Viewer
) -> dict[str, Any]:
    """Each owed form's current period, person by person (the viewer alone unless a director),
    and open tasks."""
    day, locale = today_of(settings), viewer.locale
    forms = settings.reports.forms
    sections = []
    for form, period, lines in await roster.current(session, forms, day, cal, settings.team.tz):
        shown = [ln for ln in lines if viewer.director or ln.staff_id == viewer.staff.id]
        if not shown and not viewer.director:
            continue
        sections.append(
            {
                "form": form.name.get(locale),
                "period": period_label(period, locale),
                "lines": [
                    {"name": ln.name, "state": ln.state, "at": _at(ln.at, settings, locale)}
                    for ln in shown
                ],
            }
        )
    return {"day": periods.label(Period.containing("day", day), locale), "sections": sections,
            "tasks": await _tasks(session, settings, cal, viewer)}  # fmt: skip


async def _tasks(session, settings: Settings, cal: WorkCalendar, viewer: Viewer) -> dict:
    now, locale = clock.now(), viewer.locale
    if viewer.director:
        found = await roster.open_tasks(session, now)
        late = [{"name": n, "title": title, "at": _at(at, settings, locale), "overdue": True}
                for n, title, at in found.late]  # fmt: skip
        return {"open": found.open, "overdue": found.overdue, "items": late}
    mine = (await task_service.lists(session, viewer.staff)).mine
    items = [
        {
            "name": viewer.staff.display_name,
            "title": task.title,
            "at": _at(task.deadline, settings, locale),
            "overdue": task_service.due_state(task, now, settings.team.tz, cal) == "overdue",
        }
        for task in mine
    ]
    overdue = sum(1 for i in items if i["overdue"])
    return {"open": len(items), "overdue": overdue, "items": items}


# ---- KPI --------------------------------------------------------------------------------------


def period_for(kind: str, offset: int, day: date) -> Period:
    """The `kind` period `offset` periods before the current one (offset 0 or negative)."""
    if kind not in PERIOD_KINDS or not -60 <= offset <= 0:
        raise NotFound(kind)
    period = Period.containing(kind, day)
    for _ in range(-offset):
        period = period.previous()
    return period


async def kpis(
    session: AsyncSession,
    settings: Settings,
    cal: WorkCalendar,
    viewer: Viewer,
    kind: str,
    offset: int,
    person_id: int | None,
) -> dict[str, Any]:
    """The team's KPIs (a director) or one person's: plan vs actual and the weighted score.
    Staff see their own card only, whatever they ask for."""
    period, people, person = await _kpi_subject(session, settings, viewer, kind, offset, person_id)
    locale, day = viewer.locale, today_of(settings)
    current = await _assess(session, settings, cal, period, people)
    days = kpi_view.days_left(cal, period, day)
    body: dict[str, Any] = {
        "kind": kind,
        "offset": offset,
        "period": periods.label(period, locale),
        "people": [{"id": p.id, "name": p.display_name} for p in people] if viewer.director else [],
        "person": person.display_name if person else None,
    }
    if person is None:
        results = current.team
        body["scores"] = [{"id": c.staff.id, "name": c.staff.display_name,
                           "score": kpi_view.score(c), "value": _number(c.score)}
                          for c in current.cards]  # fmt: skip
        body["best"] = kpi_view.team_best(current.cards)
        body["score"] = None
    else:
        card = current.card(person.id)
        results = card.results if card else []
        body["scores"] = []
        body["best"] = kpi_view.best(card) if card else None
        body["score"] = kpi_view.score(card) if card else None
    body["lines"] = [_kpi_line(r, locale, days, person is not None) for r in results]
    return body


async def kpi_trend(
    session: AsyncSession,
    settings: Settings,
    cal: WorkCalendar,
    viewer: Viewer,
    kind: str,
    offset: int,
    person_id: int | None,
) -> dict[str, Any]:
    """Each KPI's completion over the last TREND periods up to the shown one (the page draws it
    after the first view: it is TREND assessments)."""
    period, people, person = await _kpi_subject(session, settings, viewer, kind, offset, person_id)
    shown = [period]
    for _ in range(TREND - 1):
        shown.insert(0, shown[0].previous())
    found = [await _assess(session, settings, cal, p, people) for p in shown]
    if person is None:
        series_of = [a.team for a in found]
    else:
        series_of = [(c.results if (c := a.card(person.id)) else []) for a in found]
    names = {r.kpi.key: r.kpi.name.get(viewer.locale) for rs in series_of for r in rs}
    return {
        "labels": [periods.label(p, viewer.locale) for p in shown],
        "series": [{"name": name, "values": [_ratio_of(rs, key) for rs in series_of]}
                   for key, name in names.items()],
    }  # fmt: skip


async def _kpi_subject(session, settings: Settings, viewer: Viewer, kind, offset, person_id):
    """The period, the people assessed and the person asked about (None: the team)."""
    if not viewer.director and person_id not in (None, viewer.staff.id):
        raise Forbidden("person")
    if not viewer.director:
        person_id = viewer.staff.id
    period = period_for(kind, offset, today_of(settings))
    people = await kpi.assessed_staff(session, settings.kpi)
    person = None
    if person_id is not None:
        person = next((p for p in people if p.id == person_id), None)
        if person is None:
            raise NotFound("person")
    return period, people, person


async def _assess(session, settings: Settings, cal: WorkCalendar, period: Period, people):
    return await kpi.assess(session, settings.kpi, settings.reports, cal, settings.team.tz,
                            period, clock.now(), people)  # fmt: skip


def _kpi_line(r: kpi.Result, locale: str, days: int | None, weighted: bool) -> dict[str, Any]:
    shown = kpi_view.line(r, locale, days, weighted=weighted)
    return {
        "name": shown.name,
        "weight": shown.weight,
        "actual": shown.actual,
        "target": shown.target,
        "completion": shown.completion,
        "ratio": _number(r.completion),
        "cap": _number(r.kpi.cap),
        "problem": shown.problem,
        "pace": shown.pace,
    }


def _ratio_of(results: list[kpi.Result], key: str) -> float | None:
    found = next((r for r in results if r.kpi.key == key), None)
    return None if found is None else _number(found.completion)


# ---- 渠道 -------------------------------------------------------------------------------------


async def pipeline_view(
    session: AsyncSession,
    settings: Settings,
    viewer: Viewer,
    region: str | None,
    industry: str | None,
) -> dict[str, Any]:
    """The funnel by stage for a region and an industry (a person sees the channels they own),
    and the channels behind it."""
    locale, reports = viewer.locale, settings.reports
    regions = {c.key: c.label.get(locale) for c in reports.regions}
    industries = {c.key: c.label.get(locale) for c in reports.industries}
    region = region if region in regions else None
    industry = industry if industry in industries else None
    owner = None if viewer.director else viewer.staff.id
    which = pipeline.Filter(region, industry, owner)
    counts = await pipeline.funnel(session, which)
    found = await pipeline.listed(session, which)
    names = await staff_service.names(session, {c.owner_id for c in found if c.owner_id})
    stages = _stage_labels(locale)
    return {
        "regions": [[k, v] for k, v in regions.items()],
        "industries": [[k, v] for k, v in industries.items()],
        "region": region,
        "industry": industry,
        "funnel": [{"stage": s, "label": stages[s], "count": counts[s]} for s in channels.STAGES],
        "channels": [
            {"id": c.id, "name": c.name, "stage": stages.get(c.stage, c.stage),
             "region": regions.get(c.region, c.region),
             "industry": industries.get(c.industry, c.industry),
             "owner": names.get(c.owner_id, ""), "updated": _at(c.updated_at, settings, locale)}
            for c in found
        ],
    }  # fmt: skip


def _stage_labels(locale: str) -> dict[str, str]:
    return {stage: t(locale, label) for stage, label in channels.STAGE_LABELS.items()}


async def channel_history(
    session: AsyncSession, settings: Settings, viewer: Viewer, channel_id: int
) -> dict[str, Any]:
    """One channel's stage changes, oldest first (a person: only a channel they own)."""
    card = await channels.card(session, channel_id, changes=100)
    if card is None:
        raise NotFound("channel")
    if not viewer.director and card.channel.owner_id != viewer.staff.id:
        raise Forbidden("channel")
    stages, locale = _stage_labels(viewer.locale), viewer.locale
    return {
        "name": card.channel.name,
        "owner": card.owner.display_name if card.owner else "",
        "history": [
            {"from": stages.get(c.from_stage, "") if c.from_stage else "",
             "to": stages.get(c.to_stage, c.to_stage), "by": by.display_name if by else "",
             "at": _at(c.at, settings, locale)}
            for c, by in card.changes
        ],
    }  # fmt: skip


# ---- 待审批 -----------------------------------------------------------------------------------


async def waiting(session: AsyncSession, settings: Settings, viewer: Viewer) -> dict[str, Any]:
    """What waits for the viewer's decision: activity plans and every approvable form's requests,
    each with its card as the chat shows it."""
    day, locale, me_ = today_of(settings), viewer.locale, viewer.staff
    items = []
    for plan in await plans.waiting(session, me_, day):
        proposer = await staff_service.get(session, plan.proposer_id)
        items.append(
            {"kind": "plan", "id": plan.id, "version": plan.version, "title": plan.title,
             "form": t(locale, "Activity plan"), "proposer": proposer.display_name,
             "submitted": _at(plan.submitted_at, settings, locale),
             "text": plain(await plans.card_text(session, plan, locale)),
             "decisions": list(DECISIONS), "suggestion": False,
             "reasons": {"approve": False, "reject": True, "changes": True}}
        )  # fmt: skip
    for request in await approvals.waiting_for(session, me_, day):
        if plans.is_plan(request):  # listed above, as a plan
            continue
        proposer = await staff_service.get(session, request.proposer_id)
        form = settings.reports.form(request.form_key)
        suggestion = approvals.style(request) == "suggestion"  # the card's own three answers
        items.append(
            {"kind": "request", "id": request.id, "version": request.version,
             "title": request.title, "form": approvals.form_name(request, locale),
             "proposer": proposer.display_name,
             "submitted": _at(request.submitted_at, settings, locale),
             "text": plain(await approvals.card_text(session, request, locale)),
             "decisions": list(SUGGESTION if suggestion else DECISIONS),
             "suggestion": suggestion,
             "reasons": {d: approvals.needs_reason(form, d)
                         for d in (SUGGESTION if suggestion else DECISIONS)}}
        )  # fmt: skip
    return {"items": items}


# ---- 反馈 -------------------------------------------------------------------------------------


async def feedback_week(
    session: AsyncSession, settings: Settings, viewer: Viewer, offset: int
) -> dict[str, Any]:
    """The week's feedback by category (and last week's), its top themes, segments, channels."""
    if not viewer.director:
        raise Forbidden("feedback")
    week = period_for("week", offset, today_of(settings))
    summary = await feedback.week_summary(session, week.key)
    locale = viewer.locale
    return {
        "offset": offset,
        "period": periods.label(week, locale),
        "items": summary.total_items,
        "mentions": summary.total_mentions,
        "categories": [
            {"label": t(locale, feedback.CATEGORY_LABELS[k]), "count": n,
             "previous": summary.previous_by_category.get(k, 0)}
            for k, n in summary.by_category.items()
        ],
        "themes": [{"text": item.text, "count": item.count,
                    "category": t(locale, feedback.CATEGORY_LABELS.get(item.category, "Other"))}
                   for item in summary.top],
        "segments": [{"label": t(locale, feedback.SEGMENT_LABELS[k]), "count": n}
                     for k, n in summary.by_segment.items()],
        "channels": [{"name": name, "count": n} for name, n in summary.channels],
    }  # fmt: skip
