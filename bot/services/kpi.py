"""The KPI engine: each person's actuals, targets, completion and weighted score for a period."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar import ONE_DAY, Period, WorkCalendar, at_local, local_date
from bot.forms.spec import ReportsConfig
from bot.kpis.spec import STAGE_ORDER, KpiConfig, KpiSpec, source_problem
from bot.models import ActivityPlan, ChannelStageChange, Metric, Obligation, Report, Staff
from bot.services import targets, task_kpi
from bot.services.activity_results import effects
from bot.states import ObligationStatus, PlanStatus

ZERO, HUNDRED = Decimal(0), Decimal(100)
# Per person: the actual, or None when the period has nothing to measure (no reports due, no
# activity completed, no figure to average).
Actuals = dict[int, Decimal | None]


@dataclass(frozen=True)
class Result:
    """One KPI for one person (or the team) in one period."""

    kpi: KpiSpec
    actual: Decimal | None
    target: Decimal | None
    # actual / target, uncapped; None when there is no actual or no positive target
    ratio: Decimal | None
    # why it is not scored: "no_data", "no_target", "source_gone" (None when scored)
    problem: str | None = None
    # Whether anything was recorded behind the actual: a count with no report at all is a 0 that
    # is scored, but "no data" when it is the period a change is measured against.
    measured: bool = True

    @property
    def completion(self) -> Decimal | None:
        """The ratio capped at the KPI's cap (what the score uses)."""
        return None if self.ratio is None else min(self.ratio, self.kpi.cap)

    @property
    def scored(self) -> bool:
        """Whether it counts towards the weighted score."""
        return self.problem is None


@dataclass(frozen=True)
class Card:
    """One person's KPIs for a period, with the weighted score over the scored ones."""

    staff: Staff
    period: Period
    results: list[Result]

    @property
    def score(self) -> Decimal | None:
        """Σ weight × completion over scored KPIs, weights normalised to 100; None if none."""
        return weighted_score(self.results)

    @property
    def max_score(self) -> Decimal | None:
        """The highest score the card can reach: 100 unless a KPI counts beyond 100 %."""
        return max_score(self.results)


@dataclass(frozen=True)
class Assessment:
    """Everyone's cards and the team's results for one period."""

    period: Period
    cards: list[Card]
    team: list[Result]
    problems: dict[str, str] = field(default_factory=dict)

    def card(self, staff_id: int) -> Card | None:
        """The card of one person, if they are assessed."""
        return next((c for c in self.cards if c.staff.id == staff_id), None)


def weighted_score(results: Iterable[Result]) -> Decimal | None:
    """Σ weight × capped completion / Σ weight × 100 over the scored results."""
    scored = [r for r in results if r.scored]
    weights = sum((r.kpi.weight for r in scored), ZERO)
    if not weights:
        return None
    return sum((r.kpi.weight * r.completion for r in scored), ZERO) * HUNDRED / weights


def max_score(results: Iterable[Result]) -> Decimal | None:
    """The score with every scored KPI at its cap (120 with the default caps of 120 %)."""
    scored = [r for r in results if r.scored]
    weights = sum((r.kpi.weight for r in scored), ZERO)
    if not weights:
        return None
    return sum((r.kpi.weight * r.kpi.cap for r in scored), ZERO) * HUNDRED / weights


def result(kpi: KpiSpec, actual: Decimal | None, target: Decimal | None, gone: bool) -> Result:
    """Judge one actual against its target; the reason it is not scored, if it is not."""
    ratio = actual / target if actual is not None and target is not None and target > 0 else None
    if gone:
        problem = "source_gone"
    elif target is None or target <= 0:
        problem = "no_target"
    elif actual is None:
        problem = "no_data"
    else:
        problem = None
    return Result(kpi, actual, target, ratio, problem)


async def assess(
    session: AsyncSession,
    kpi_config: KpiConfig,
    reports: ReportsConfig,
    cal: WorkCalendar,
    tz: ZoneInfo,
    period: Period,
    now: datetime,
    people: list[Staff] | None = None,
) -> Assessment:
    """Cards for everyone assessed (active staff whose roles have KPIs) and the team's results."""
    if people is None:
        people = await assessed_staff(session, kpi_config)
    book = await targets.load(session, cal)
    problems = {k.key: p for k in kpi_config.kpis if (p := source_problem(k, reports))}
    window = Window.of(period, tz, now)
    per_person: dict[int, list[Result]] = defaultdict(list)
    team: list[Result] = []
    for kpi in kpi_config.kpis:
        holders = [p for p in people if kpi.applies_to(p.role_names)]
        if not holders:
            continue
        actuals, team_actual = await measure(session, kpi, window, [p.id for p in holders])
        personal = []
        for person in holders:
            joined = local_date(person.joined_at, tz)
            target = book.personal(kpi, person.id, period, joined)
            personal.append(target)
            gone = kpi.key in problems
            per_person[person.id].append(result(kpi, actuals.get(person.id), target, gone))
        team_target = book.team(kpi, period, personal)
        judged = result(kpi, team_actual, team_target, kpi.key in problems)
        if kpi.additive and not await recorded(session, kpi, window, [p.id for p in holders]):
            judged = replace(judged, measured=False)
        team.append(judged)
    cards = [Card(p, period, per_person[p.id]) for p in people if per_person.get(p.id)]
    return Assessment(period, cards, team, problems)


async def assessed_staff(session: AsyncSession, kpi_config: KpiConfig) -> list[Staff]:
    """Active staff holding a role that some KPI applies to, by name."""
    staff = await session.scalars(
        select(Staff).where(Staff.active.is_(True)).order_by(Staff.display_name, Staff.id)
    )
    return [s for s in staff if kpi_config.for_roles(s.role_names)]


@dataclass(frozen=True)
class Window:
    """Days as the database sees them: dates for reports, UTC bounds for moments."""

    first: date
    last: date
    tz: ZoneInfo
    now: datetime

    @classmethod
    def of(cls, period: Period, tz: ZoneInfo, now: datetime) -> "Window":
        """The whole of a period."""
        return cls(period.start, period.end, tz, now)

    @property
    def since(self) -> datetime:
        """The first moment of the first day."""
        return at_local(self.first, time(0), self.tz)

    @property
    def until(self) -> datetime:
        """The first moment after the last day."""
        return at_local(self.last + ONE_DAY, time(0), self.tz)


async def measure(
    session: AsyncSession, kpi: KpiSpec, window: Window, staff_ids: list[int]
) -> tuple[Actuals, Decimal | None]:
    """Each person's actual and the team's (over the same people) for one KPI."""
    measurer = {
        "metric": _metric,
        "channels": _channels,
        "activity": _activity,
        "timeliness": _timeliness,
        "tasks": task_kpi.on_time,
    }[kpi.source]
    return await measurer(session, kpi, window, staff_ids)


async def recorded(
    session: AsyncSession, kpi: KpiSpec, window: Window, staff_ids: list[int]
) -> bool:
    """Whether a count KPI has anything behind it in the window: a report carrying its field, or
    (channels) a stage change or any report by its holders."""
    if kpi.source == "metric":
        found = select(Metric.id).where(
            Metric.form_key.in_(kpi.forms()),
            Metric.field_key == kpi.field,
            Metric.period_start.between(window.first, window.last),
            Metric.staff_id.in_(staff_ids),
        )
        return await session.scalar(found.limit(1)) is not None
    moved = select(ChannelStageChange.id).where(
        ChannelStageChange.day.between(window.first, window.last),
        ChannelStageChange.by_staff_id.in_(staff_ids),
    )
    filed = select(Report.id).where(
        Report.staff_id.in_(staff_ids),
        Report.filed_at >= window.since,
        Report.filed_at < window.until,
    )
    for query in (moved, filed):
        if await session.scalar(query.limit(1)) is not None:
            return True
    return False


async def _metric(session, kpi: KpiSpec, window: Window, staff_ids: list[int]):
    values = await _metric_sums(session, kpi.forms(), kpi.field, kpi.agg, window, staff_ids)
    if kpi.per is None:
        if kpi.agg == "avg":
            return _averages(values)
        return _sums(values, staff_ids)
    per = await _metric_sums(session, kpi.forms(), kpi.per, kpi.agg, window, staff_ids)
    mine = {s: _fraction(values.get(s, (ZERO, 0))[0], per.get(s, (ZERO, 0))[0]) for s in staff_ids}
    team = _fraction(sum((v[0] for v in values.values()), ZERO),
                     sum((v[0] for v in per.values()), ZERO))  # fmt: skip
    return mine, team


def _sums(values: dict[int, tuple[Decimal, int]], staff_ids: list[int]):
    # A count with no reports is a real zero: nothing was achieved.
    mine: Actuals = {s: values.get(s, (ZERO, 0))[0] for s in staff_ids}
    return mine, sum((v for v in mine.values() if v is not None), ZERO)


def _averages(values: dict[int, tuple[Decimal, int]]):
    mine: Actuals = {s: total / n for s, (total, n) in values.items() if n}
    total = sum((v[0] for v in values.values()), ZERO)
    count = sum(v[1] for v in values.values())
    return mine, (total / count if count else None)


def _fraction(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return numerator / denominator if denominator else None


async def _metric_sums(
    session, forms: tuple[str, ...], field_key: str, agg: str, window: Window, staff_ids: list[int]
) -> dict[int, tuple[Decimal, int]]:
    """Per person: (sum, count) of a field of `forms` over the period — or of its latest report
    only."""
    where = (
        Metric.form_key.in_(forms),
        Metric.field_key == field_key,
        Metric.period_start.between(window.first, window.last),
        Metric.staff_id.in_(staff_ids),
    )
    if agg == "latest":
        latest = (
            select(Metric.staff_id, func.max(Metric.period_start).label("start"))
            .where(*where)
            .group_by(Metric.staff_id)
            .subquery()
        )
        rows = await session.execute(
            select(Metric.staff_id, Metric.value, 1)
            .join(
                latest,
                (latest.c.staff_id == Metric.staff_id) & (latest.c.start == Metric.period_start),
            )
            .where(*where)
        )
    else:
        rows = await session.execute(
            select(Metric.staff_id, func.sum(Metric.value), func.count(Metric.id))
            .where(*where)
            .group_by(Metric.staff_id)
        )
    return {staff_id: (Decimal(total), int(n)) for staff_id, total, n in rows}


async def _channels(session, kpi: KpiSpec, window: Window, staff_ids: list[int]):
    # Reaching a stage means crossing it from below (straight from lead to live counts as signed).
    reached = STAGE_ORDER[STAGE_ORDER.index(kpi.stage) :]
    rows = await session.execute(
        select(ChannelStageChange.by_staff_id, ChannelStageChange.channel_id)
        .where(
            ChannelStageChange.day.between(window.first, window.last),
            ChannelStageChange.by_staff_id.in_(staff_ids),
            ChannelStageChange.to_stage.in_(reached),
            ChannelStageChange.from_stage.is_(None) | ChannelStageChange.from_stage.not_in(reached),
        )
        .distinct()
    )
    by_person: dict[int, set[int]] = defaultdict(set)
    for staff_id, channel_id in rows:
        by_person[staff_id].add(channel_id)
    mine: Actuals = {s: Decimal(len(by_person.get(s, ()))) for s in staff_ids}
    team = Decimal(len(set().union(*by_person.values()))) if by_person else ZERO
    return mine, team


async def _activity(session, kpi: KpiSpec, window: Window, staff_ids: list[int]):
    plans = await session.scalars(
        select(ActivityPlan).where(
            ActivityPlan.status == PlanStatus.COMPLETED,
            ActivityPlan.proposer_id.in_(staff_ids),
            ActivityPlan.completed_at >= window.since,
            ActivityPlan.completed_at < window.until,
        )
    )
    by_person: dict[int, list[Decimal]] = defaultdict(list)
    for plan in plans:
        effect = plan_effect(plan)
        if effect is not None:
            by_person[plan.proposer_id].append(effect)
    mine: Actuals = {s: _mean(v) for s, v in by_person.items()}
    return mine, _mean([e for v in by_person.values() for e in v])


def plan_effect(plan: ActivityPlan) -> Decimal | None:
    """A completed plan's effect: the mean of actual / target over its measurable targets."""
    return _mean([e.ratio for e in effects(plan) if e.ratio is not None])


def _mean(values: list[Decimal]) -> Decimal | None:
    return sum(values, ZERO) / len(values) if values else None


async def _timeliness(session, kpi: KpiSpec, window: Window, staff_ids: list[int]):
    # Reports due in the period (by now), excused ones (leave) aside; on time = filed by the due
    # time. A person who joined mid-period owes only what fell due after joining.
    rows = await session.execute(
        select(Obligation.staff_id, Obligation.status, func.count(Obligation.id))
        .where(
            Obligation.staff_id.in_(staff_ids),
            Obligation.due_at >= window.since,
            Obligation.due_at < window.until,
            Obligation.due_at <= window.now,
            Obligation.status != ObligationStatus.EXCUSED,
        )
        .group_by(Obligation.staff_id, Obligation.status)
    )
    due: dict[int, int] = defaultdict(int)
    on_time: dict[int, int] = defaultdict(int)
    for staff_id, status, n in rows:
        due[staff_id] += n
        if status == ObligationStatus.FILED:
            on_time[staff_id] += n
    mine: Actuals = {s: Decimal(on_time[s]) / due[s] for s in due if due[s]}
    total = sum(due.values())
    return mine, (Decimal(sum(on_time.values())) / total if total else None)


@dataclass(frozen=True)
class Pace:
    """Where a count KPI stands in its month on a given day, and what it needs from now on."""

    kpi: KpiSpec
    day_actual: Decimal
    day_plan: Decimal | None
    month_actual: Decimal
    month_target: Decimal | None
    workdays_left: int
    month_workdays: int = 0  # working days in the month

    @property
    def spread_thin(self) -> bool:
        """Fewer units a month than working days (4 signings in 21 days): a day's share is 0 or
        1 and "plan 0 a day" says nothing, so the digest speaks of the month instead."""
        target = self.month_target
        return target is not None and 0 < target < self.month_workdays

    @property
    def still_to_go(self) -> Decimal | None:
        """What the month still needs in all (0 when on plan); None without a target."""
        if self.month_target is None:
            return None
        return max(self.month_target - self.month_actual, ZERO)

    @property
    def needed_per_day(self) -> Decimal | None:
        """What each remaining working day needs to bring the month on plan (0 when it is)."""
        return needed_per_day(self.month_target, self.month_actual, self.workdays_left)


def needed_per_day(
    target: Decimal | None, actual: Decimal | None, days_left: int
) -> Decimal | None:
    """(target − actual) / working days left, rounded up to a whole unit (a count cannot be done
    in fractions, and rounding down would leave the month short); 0 when on plan; None without a
    target or days."""
    if target is None or actual is None or not days_left:
        return None
    return (max(target - actual, ZERO) / days_left).to_integral_value(ROUND_CEILING)


async def paces(
    session: AsyncSession,
    kpi_config: KpiConfig,
    cal: WorkCalendar,
    tz: ZoneInfo,
    day: date,
    now: datetime,
    people: list[Staff],
) -> list[Pace]:
    """The team's count KPIs on `day`: the day against its share, the month against its plan."""
    found = []
    month, today = Period.containing("month", day), Period.containing("day", day)
    book = await targets.load(session, cal)
    for kpi in kpi_config.kpis:
        holders = [p for p in people if kpi.applies_to(p.role_names)]
        if not kpi.additive or not holders:
            continue
        ids = [p.id for p in holders]
        joined = {p.id: local_date(p.joined_at, tz) for p in holders}
        _, day_actual = await measure(session, kpi, Window.of(today, tz, now), ids)
        _, so_far = await measure(session, kpi, Window(month.start, day, tz, now), ids)
        day_plan = book.team(kpi, today, [book.personal(kpi, i, today, joined[i]) for i in ids])
        month_target = book.team(kpi, month, [book.personal(kpi, i, month, joined[i]) for i in ids])
        left = cal.count_workdays(day + ONE_DAY, month.end)
        found.append(
            Pace(kpi, day_actual or ZERO, day_plan, so_far or ZERO, month_target, left,
                 cal.count_workdays(month.start, month.end))
        )  # fmt: skip
    return found
