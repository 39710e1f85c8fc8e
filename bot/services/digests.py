"""What each digest says: the day's filing, pace and problems raised, a period's KPIs, feedback
and activities."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar import ONE_DAY, Period, WorkCalendar, at_local
from bot.charts import BarChart
from bot.config import Settings
from bot.forms.spec import Labels
from bot.i18n import t
from bot.models import ActivityPlan, ApprovalRequest, Feedback, Obligation, Outbox, Report, Staff
from bot.outbox import keys_starting
from bot.render import render
from bot.services import approvals, kpi, leave, periods, task_kpi
from bot.services import feedback as feedback_service
from bot.services.kpi import Assessment, Card, Pace, Result
from bot.states import FILED, TASK_OPEN, ObligationStatus, PlanStatus, RequestStatus

# Each group digest lists at most this many people, so it stays one message (4096 characters).
MAX_PEOPLE = 30
PIPELINE = (PlanStatus.PENDING, PlanStatus.APPROVED, PlanStatus.RUNNING, PlanStatus.COMPLETED)


@dataclass(frozen=True)
class Daily:
    """The day's filing: who filed (late or not), who is missing, who is away; the pace."""

    day: date
    filed: list[tuple[str, bool]]  # (name, late)
    missing: list[str]
    away: list[str]
    paces: list[Pace]

    @property
    def empty(self) -> bool:
        """Nothing was due and nothing is measured."""
        return not (self.filed or self.missing or self.paces)


@dataclass(frozen=True)
class PeriodDigest:
    """A week's, month's or quarter's KPIs, against the period before."""

    kind: str  # weekly | monthly | quarterly
    now: Assessment
    before: Assessment
    pipeline: dict[str, int] = field(default_factory=dict)
    feedback: feedback_service.WeekSummary | None = None
    summaries: list[tuple[str, str | None]] = field(default_factory=list)  # (name, link)
    tasks: "TaskTally | None" = None  # weekly: tasks due in the week, when any were
    suggestions: "SuggestionTally | None" = None  # monthly: suggestions made in the month

    @property
    def period(self) -> Period:
        """The period the digest is about."""
        return self.now.period

    @property
    def empty(self) -> bool:
        """Nobody is assessed, so there are no KPIs to show."""
        return not self.now.cards and not self.now.team

    def team_rows(self) -> list[tuple[Result, Result | None]]:
        """Each team KPI with the same KPI in the period before (None if it did not apply)."""
        before = {r.kpi.key: r for r in self.before.team}
        return [(r, before.get(r.kpi.key)) for r in self.now.team]

    def people(self) -> list[Card]:
        """The people shown (the first MAX_PEOPLE by name)."""
        return self.now.cards[:MAX_PEOPLE]

    @property
    def hidden_people(self) -> int:
        """How many people did not fit in one message."""
        return max(0, len(self.now.cards) - MAX_PEOPLE)


async def daily(
    session: AsyncSession, settings: Settings, cal: WorkCalendar, day: date, now: datetime
) -> Daily:
    """The day's digest: obligations of the daily forms for `day`, and the count KPIs' pace."""
    daily_forms = [f.key for f in settings.reports.forms if f.cadence == "daily"]
    rows = await session.execute(
        select(Staff.display_name, Obligation.status)
        .join(Staff, Staff.id == Obligation.staff_id)
        .where(Obligation.form_key.in_(daily_forms), Obligation.period_key == day.isoformat())
        .order_by(Staff.display_name)
    )
    filed, missing = [], []
    for name, status in rows:
        if status in FILED:
            filed.append((name, status == ObligationStatus.LATE))
        elif status in (ObligationStatus.OPEN, ObligationStatus.MISSED):
            missing.append(name)
    away_ids = await leave.away_ids(session, day)
    away = [s.display_name for s in await _staff(session, away_ids)]
    people = await kpi.assessed_staff(session, settings.kpi)
    tz = settings.team.tz
    paces = await kpi.paces(session, settings.kpi, cal, tz, day, now, people)
    return Daily(day, filed, sorted(set(missing)), away, paces)


@dataclass(frozen=True)
class Raised:
    """A problem raised or help asked for in a daily report: who, under which question, what."""

    name: str
    label: Labels  # the question's label (问题与支持)
    text: str
    report_id: int
    field_key: str
    period_key: str  # the day it was written for (a late report names an earlier day)


def raised_window(cal: WorkCalendar, tz: ZoneInfo, fired_at: datetime) -> tuple[datetime, datetime]:
    """Since the previous working day's digest (same time of day) until this one fired: each
    report filed or edited is listed once, a late one (the next morning) in the next digest."""
    local = fired_at.astimezone(tz)
    before = cal.previous_workday(local.date())
    return datetime.combine(before, local.time(), tzinfo=tz), fired_at


async def raised(
    session: AsyncSession, settings: Settings, since: datetime, until: datetime
) -> list[Raised]:
    """What daily reports filed or edited in [since, until) say in their problems fields, by
    name then day; empty answers are no problem."""
    fields = {f.key: [x for x in f.fields if x.problems] for f in settings.reports.forms
              if f.cadence == "daily"}  # fmt: skip
    fields = {key: found for key, found in fields.items() if found}
    if not fields:
        return []
    rows = await session.execute(
        select(Staff.display_name, Report)
        .join(Staff, Staff.id == Report.staff_id)
        .where(
            Report.form_key.in_(fields),
            Report.updated_at >= since,
            Report.updated_at < until,
            Staff.active.is_(True),
        )
        .order_by(Staff.display_name, Report.period_key, Report.id)
    )
    found = []
    for name, report in rows:
        for spec in fields[report.form_key]:
            text = str(report.answers.get(spec.key) or "").strip()
            if text:
                found.append(Raised(name, spec.label, text, report.id, spec.key, report.period_key))
    return found


async def period_digest(
    session: AsyncSession,
    settings: Settings,
    cal: WorkCalendar,
    kind: str,
    period: Period,
    now: datetime,
) -> PeriodDigest:
    """The weekly, monthly or quarterly digest of `period`, compared with the one before."""
    tz = settings.team.tz
    people = await kpi.assessed_staff(session, settings.kpi)
    args = (session, settings.kpi, settings.reports, cal, tz)
    current = await kpi.assess(*args, period, now, people)
    before = await kpi.assess(*args, period.previous(), now, people)
    digest = PeriodDigest(kind, current, before)
    if kind == "monthly":
        return PeriodDigest(kind, current, before,
                            suggestions=await suggestion_tally(session, period, tz))  # fmt: skip
    if kind != "weekly":
        return digest
    return PeriodDigest(
        kind, current, before,
        pipeline=await pipeline(session, period, tz, now),
        feedback=await _feedback(session, period),
        summaries=await weekly_summaries(session, settings, period),
        tasks=await task_tally(session, period, tz),
    )  # fmt: skip


@dataclass(frozen=True)
class TaskTally:
    """Assigned tasks due in a period: done on time, done late, still open."""

    on_time: int
    late: int
    open: int


async def task_tally(session: AsyncSession, period: Period, tz: ZoneInfo) -> TaskTally | None:
    """The week's line on tasks (deadlines as the tasks KPI judges them); None when none were
    due. Done counts by when it was marked done, accepted yet or not."""
    since = at_local(period.start, time(0), tz)
    until = at_local(period.end + ONE_DAY, time(0), tz)
    on_time = late = still_open = 0
    for task, deadline in await task_kpi.due_between(session, since, until):
        if task.status in TASK_OPEN:
            still_open += 1
        elif task.done_at is not None and task.done_at <= deadline:
            on_time += 1
        else:
            late += 1
    if not on_time + late + still_open:
        return None
    return TaskTally(on_time, late, still_open)


@dataclass(frozen=True)
class SuggestionTally:
    """Suggestions (合理化建议) made in a period and how they were answered."""

    made: int
    adopted: int
    noted: int
    declined: int
    waiting: int


async def suggestion_tally(
    session: AsyncSession, period: Period, tz: ZoneInfo
) -> SuggestionTally | None:
    """The month's line on suggestions (forms of approval style "suggestion"); None when none
    were made."""
    since = at_local(period.start, time(0), tz)
    until = at_local(period.end + ONE_DAY, time(0), tz)
    rows = await session.scalars(
        select(ApprovalRequest).where(
            ApprovalRequest.created_at >= since, ApprovalRequest.created_at < until
        )
    )
    made = [r for r in rows if approvals.style(r) == "suggestion"]
    if not made:
        return None
    count = Counter(r.status for r in made)
    return SuggestionTally(
        len(made), count[RequestStatus.APPROVED], count[RequestStatus.NOTED],
        count[RequestStatus.REJECTED],
        count[RequestStatus.PENDING] + count[RequestStatus.CHANGES_REQUESTED],
    )  # fmt: skip


async def pipeline(
    session: AsyncSession, period: Period, tz: ZoneInfo, now: datetime
) -> dict[str, int]:
    """Plans pending, approved and running now, and completed during the period."""
    window = kpi.Window.of(period, tz, now)
    rows = await session.execute(
        select(ActivityPlan.status, func.count(ActivityPlan.id))
        .where(ActivityPlan.status.in_(PIPELINE[:3]))
        .group_by(ActivityPlan.status)
    )
    counts = Counter(dict(rows.all()))
    counts[PlanStatus.COMPLETED] = await session.scalar(
        select(func.count(ActivityPlan.id)).where(
            ActivityPlan.status == PlanStatus.COMPLETED,
            ActivityPlan.completed_at >= window.since,
            ActivityPlan.completed_at < window.until,
        )
    )
    return {status: int(counts.get(status, 0)) for status in PIPELINE}


async def _feedback(session: AsyncSession, period: Period) -> feedback_service.WeekSummary | None:
    exists = await session.scalar(select(Feedback.id).where(Feedback.week_key == period.key))
    return await feedback_service.week_summary(session, period.key) if exists else None


async def weekly_summaries(
    session: AsyncSession, settings: Settings, period: Period
) -> list[tuple[str, str | None]]:
    """Who filed a weekly summary for the week, with a link to its post in the group."""
    weekly = [f.key for f in settings.reports.forms if f.cadence == "weekly"]
    rows = await session.execute(
        select(Staff.display_name, Report.id, Report.version)
        .join(Staff, Staff.id == Report.staff_id)
        .where(Report.form_key.in_(weekly), Report.period_key == period.key)
        .order_by(Staff.display_name)
    )
    return [(name, await _group_link(session, report_id, version))
            for name, report_id, version in rows]  # fmt: skip


async def _group_link(session: AsyncSession, report_id: int, version: int) -> str | None:
    # Announced to a supergroup, a message has a t.me/c link (members can open it).
    sent = await session.execute(
        select(Outbox.chat_id, Outbox.message_id).where(
            keys_starting(session, f"report:{report_id}:v{version}:-100"),
            Outbox.message_id.is_not(None),
        )
    )
    row = sent.first()
    if row is None:
        return None
    chat_id, message_id = row
    return f"https://t.me/c/{str(chat_id)[4:]}/{message_id}"


async def _staff(session: AsyncSession, ids: set[int]) -> list[Staff]:
    if not ids:
        return []
    found = await session.scalars(
        select(Staff).where(Staff.id.in_(ids), Staff.active.is_(True)).order_by(Staff.display_name)
    )
    return list(found)


def team_chart(digest: PeriodDigest, locale: str) -> BarChart | None:
    """The team's completion of every KPI in the period beside the one before; a KPI without a
    figure is listed with the reason, a period before without data draws nothing."""
    rows = digest.team_rows()
    if not rows:
        return None
    label = periods.label(digest.period, locale)
    return BarChart(
        title=t(locale, "Team KPI completion · %(period)s", period=label),
        labels=[r.kpi.name.get(locale) for r, _ in rows],
        series=[
            (t(locale, "This period"), [_percent(r) for r, _ in rows]),
            (t(locale, "Period before"), [_percent(b, before=True) for _, b in rows]),
        ],
        note=t(
            locale,
            "Dashed line: the plan (100%%). Completion counts up to %(cap)s%%.",
            cap=top_cap(digest),
        ),
        gaps=[_gap(r, locale) for r, _ in rows],
    )


def chart_caption(digest: PeriodDigest, locale: str) -> str:
    """The chart's caption: the period and one line on what it shows (well under 1024)."""
    return render("digest_chart.html.j2", locale, period_label=periods.label(digest.period, locale),
                  compared=compared(digest), cap=top_cap(digest))  # fmt: skip


def top_cap(digest: PeriodDigest) -> int:
    """The highest completion any KPI counts, in percent (120 with the shipped caps)."""
    return int(max((r.kpi.cap for r, _ in digest.team_rows()), default=1) * 100)


def compared(digest: PeriodDigest) -> bool:
    """Whether any KPI has a figure for the period before (the chart then shows both)."""
    return any(_percent(b, before=True) is not None for _, b in digest.team_rows())


def _percent(result: Result | None, before: bool = False) -> float | None:
    # The period before counts only if something was recorded in it (a count with no report at
    # all is "no data" to compare with, though this period's own 0 is a real 0 %).
    if result is None or result.completion is None or (before and not result.measured):
        return None
    return float(result.completion * 100)


def _gap(result: Result, locale: str) -> str:
    if result.completion is not None:
        return ""
    if result.problem == "no_target" and result.target == 0:
        return t(locale, "plan is 0 this period")
    if result.problem == "no_target":
        return t(locale, "no target")
    if result.problem == "source_gone":
        return t(locale, "source field removed from the forms")
    return t(locale, "no data")
