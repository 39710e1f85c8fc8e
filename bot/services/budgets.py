"""Budget pools (activities, expenses, advertising …): amounts per month or quarter, and what
requests hold and charge against them."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import bindparam, delete, event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.calendar import Period
from bot.db import connection, insert_for_dialect
from bot.forms.fields import DEFAULT_CAP, halfwidth
from bot.i18n import normalise
from bot.models import ActivityPlan, ApprovalRequest, Budget, BudgetCharge, Staff
from bot.render import render
from bot.services import audit, periods
from bot.services.errors import ServiceError
from bot.states import PlanStatus

# The pool activity plans draw on: a plan's charge follows its row (plan_charge below).
ACTIVITIES = "activities"
# A plan holds money once approved: it stays committed while running and after completion.
COMMITTED = (PlanStatus.APPROVED, PlanStatus.RUNNING, PlanStatus.COMPLETED)
KEY = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
ABOUT_MAX = 64


class ChargeState(StrEnum):
    """A budget_charges row: money asked for (pending) or granted."""

    HELD = "held"  # the request waits for a decision: shown as pending
    CHARGED = "charged"  # approved: the money is spent


class BudgetError(ServiceError):
    """A budget that cannot be set or read; `reason` picks the message, `details` fill it in."""


class PoolName(BaseModel):
    """A pool's name in both languages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str = Field(min_length=1, max_length=32)
    en: str = Field(min_length=1, max_length=32)


class Pool(BaseModel):
    """One [[budgets.pools]] entry: a pool of money with an amount per month or per quarter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    name: PoolName
    period: Literal["month", "quarter"] = "month"
    # Yuan for a period whose amount no director has set; none: unset until someone sets it.
    amount: Decimal | None = Field(default=None, ge=0, le=DEFAULT_CAP, decimal_places=2)

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        if not KEY.match(key):
            raise ValueError(f"{key!r}: pool keys are lowercase letters, digits and _ (max 20)")
        return key

    @property
    def default_fen(self) -> int | None:
        return None if self.amount is None else int(self.amount * 100)

    def label(self, locale: str) -> str:
        """The pool's name in `locale`."""
        return self.name.en if normalise(locale) == "en" else self.name.zh


DEFAULT_POOLS = (
    Pool(key=ACTIVITIES, name=PoolName(zh="活动", en="Activities"), period="month"),
    Pool(key="expenses", name=PoolName(zh="费用", en="Expenses"), period="month"),
    Pool(key="advertising", name=PoolName(zh="广告", en="Advertising"), period="quarter"),
)


class BudgetsConfig(BaseModel):
    """The [budgets] table: the pools, in the order /budget lists them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pools: tuple[Pool, ...] = DEFAULT_POOLS

    @field_validator("pools")
    @classmethod
    def _pools(cls, pools: tuple[Pool, ...]) -> tuple[Pool, ...]:
        keys = [p.key for p in pools]
        if len(keys) != len(set(keys)):
            raise ValueError("two pools share a key")
        names = [n for p in pools for n in {_folded(x) for x in (p.key, p.name.zh, p.name.en)}]
        if len(names) != len(set(names)):
            raise ValueError("two pools share a name: /budget picks a pool by its key or name")
        if ACTIVITIES not in keys:
            raise ValueError(f"keep the {ACTIVITIES!r} pool: activity plans draw on it")
        return pools


@dataclass(frozen=True)
class PoolView:
    """A pool in one period (fen): its amount, what is charged (approved) and pending (asked, not
    yet decided), and optionally one request's own amount (`item`, counted in neither)."""

    pool: Pool
    period: str  # the period the figures cover: a month, or its quarter when only that is set
    budget: int | None
    charged: int
    pending: int
    item: int = 0

    @property
    def left(self) -> int | None:
        """What is not yet charged or asked for (negative when overspent); None without budget."""
        return None if self.budget is None else self.budget - self.charged - self.pending

    @property
    def over(self) -> bool:
        """Overspent already, or the item does not fit in what is left."""
        return self.left is not None and (self.left < 0 or self.item > self.left)

    @property
    def overrun(self) -> int:
        """By how much the pool is (or with the item would be) over; 0 when it is not."""
        return max(0, self.item - self.left) if self.over and self.left is not None else 0


def pools(settings) -> tuple[Pool, ...]:
    """The configured pools, in the order /budget lists them."""
    return settings.budgets.pools


def find(configured: tuple[Pool, ...], text: str) -> Pool | None:
    """The pool `text` names: its key or its Chinese or English name (费用, 费用预算, Expenses)."""
    wanted = _folded(text)
    for pool in configured:
        names = {_folded(n) for n in (pool.key, pool.name.zh, pool.name.en)}
        if wanted in names or wanted.removesuffix("预算") in names:
            return pool
    return None


def _folded(text: str) -> str:
    return re.sub(r"\s+", "", halfwidth(text)).casefold()


def period_key(pool: Pool, day: date) -> str:
    """The key of the pool's period that contains `day` ("2026-12" or "2026-Q4")."""
    return Period.containing(pool.period, day).key


async def remainder(
    session: AsyncSession, pool: Pool | str, period_key: str, about: str | None = None
) -> PoolView:
    """The pool in the period `period_key` names (a month or a quarter).

    A month's own amount wins; without one, the month's quarter amount applies, with what is
    charged across the quarter (decision 27); without either, the pool's default amount. With
    `about`, that request's amount is the view's `item` and counts in neither sum, so a card
    says what is left for it. A pool given by key only (no settings at hand) is one of the
    shipped pools or, unknown, named by its key without a default amount.
    """
    spec = _spec(pool, period_key)
    period = _period(period_key)
    if spec.period == "quarter" and period.kind == "month":
        period = Period.containing("quarter", period.start)
    row = await session.get(Budget, (spec.key, period.key))
    if row is None and period.kind == "month":
        quarter = Period.containing("quarter", period.start)
        quarterly = await session.get(Budget, (spec.key, quarter.key))
        if quarterly is not None:
            row, period = quarterly, quarter
    amount = row.amount_fen if row is not None else None
    if amount is None and period.kind == spec.period:
        amount = spec.default_fen
    charged, pending, item = await _charges(session, spec.key, _covered(period), about)
    return PoolView(spec, period.key, amount, charged, pending, item)


async def hold(
    session: AsyncSession,
    pool: Pool | str,
    period_key: str,
    fen: int,
    about: str,
    staff_id: int | None,
) -> None:
    """Show a request's amount as pending in the pool while it waits for a decision; holding
    again (a resubmission) updates it; a request already charged stays charged."""
    await _write(session, ChargeState.HELD, pool, period_key, fen, about, staff_id)


async def charge(
    session: AsyncSession,
    pool: Pool | str,
    period_key: str,
    fen: int,
    about: str,
    staff_id: int | None,
) -> None:
    """Charge a request's amount to the pool (its hold, if any, becomes the charge). Once per
    `about`: charging again counts once, with the latest amount (an actual cost, say)."""
    await _write(session, ChargeState.CHARGED, pool, period_key, fen, about, staff_id)


async def release(session: AsyncSession, about: str) -> bool:
    """Give back what a request held or was charged (rejected, withdrawn, cancelled); False when
    it had nothing in any pool."""
    result = await session.execute(delete(BudgetCharge).where(BudgetCharge.about == about))
    return result.rowcount > 0


async def set_amount(
    session: AsyncSession, pool: Pool | str, period_key: str, fen: int, staff: Staff
) -> Budget:
    """Set a pool's amount for a month or a quarter ("YYYY-MM" / "YYYY-Qn", whole fen); a
    quarterly pool takes quarters only."""
    if isinstance(fen, bool) or not isinstance(fen, int) or not 0 <= fen <= DEFAULT_CAP * 100:
        raise BudgetError("amount")
    spec = _spec(pool, period_key)
    period = _period(period_key)
    if spec.period == "quarter" and period.kind == "month":
        quarter = Period.containing("quarter", period.start).key
        raise BudgetError("per_quarter", pool=spec, quarter=quarter)
    row = await session.get(Budget, (spec.key, period.key))
    before = row.amount_fen if row is not None else None
    if row is None:
        row = Budget(pool=spec.key, period_key=period.key, amount_fen=fen, set_at=clock.now())
        session.add(row)
    row.amount_fen, row.set_by, row.set_at = fen, staff.id, clock.now()
    await session.flush()
    await audit.record(
        session,
        staff.telegram_id,
        "budget.set",
        f"budget:{spec.key}:{period.key}",
        before=before,
        after=fen,
    )
    return row


async def overview(session: AsyncSession, configured: tuple[Pool, ...], key: str) -> list[PoolView]:
    """Every pool in the period `key` names: a month shows quarterly pools at its quarter."""
    return [await remainder(session, pool, key) for pool in configured]


def yuan(fen: int | None) -> str:
    """Whole fen as "¥1,234.56" (money is never a float)."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def line_context(view: PoolView, locale: str) -> dict:
    """What a template needs to say one pool's figures in `locale` (money already formatted)."""
    return dict(
        name=view.pool.label(locale),
        period=periods.label(Period.parse(view.period), locale),
        budget=None if view.budget is None else yuan(view.budget),
        charged=yuan(view.charged),
        pending=yuan(view.pending),
        left=None if view.left is None else yuan(view.left),
        item=yuan(view.item) if view.item else None,
        over=view.over,
        overrun=yuan(view.overrun),
    )


def card_line(view: PoolView, locale: str) -> str:
    """One pool's line for an approval card, e.g. 费用预算（2026年12月）：剩余 ¥5,000.00；
    本单 ¥6,000.00，超出 ¥1,000.00 ⚠️ (the request's amount is the view's `item`: pass `about`
    to `remainder`, or `dataclasses.replace(view, item=fen)`)."""
    return render("budget_line.html.j2", locale, **line_context(view, locale))


def _spec(pool: Pool | str, period_key: str) -> Pool:
    if isinstance(pool, Pool):
        return pool
    shipped = next((p for p in DEFAULT_POOLS if p.key == pool), None)
    if shipped is not None:
        return shipped
    if not isinstance(pool, str) or not KEY.match(pool):
        raise BudgetError("unknown_pool", text=str(pool))
    kind = _period(period_key).kind
    return Pool(key=pool, name=PoolName(zh=pool, en=pool), period=kind)


def _period(key: str) -> Period:
    try:
        period = Period.parse(key)
    except ValueError:
        raise BudgetError("bad_period", period=key) from None
    if period.kind not in ("month", "quarter"):
        raise BudgetError("bad_period", period=key)
    return period


def _checked(pool: Pool | str, period_key: str, fen: int, about: str) -> tuple[Pool, str]:
    """The pool and its period key for a hold or a charge (a month of a quarterly pool becomes
    its quarter, so /budget finds it)."""
    if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
        raise BudgetError("amount")
    if not about or len(about) > ABOUT_MAX:
        raise ValueError(f"about must be 1 to {ABOUT_MAX} characters: {about!r}")
    spec = _spec(pool, period_key)
    period = _period(period_key)
    if spec.period == "quarter" and period.kind == "month":
        period = Period.containing("quarter", period.start)
    return spec, period.key


def _covered(period: Period) -> list[str]:
    """The period keys whose charges count in `period`: a quarter takes its months' too."""
    if period.kind == "month":
        return [period.key]
    return [period.key, *(m.key for m in _months(period))]


def _months(period: Period) -> list[Period]:
    first = Period.containing("month", period.start)
    return [first, first.next(), first.next().next()] if period.kind == "quarter" else [first]


async def _write(
    session: AsyncSession,
    state: str,
    pool: Pool | str,
    period_key: str,
    fen: int,
    about: str,
    staff_id: int | None,
) -> None:
    """The request's one charge row, inserted or updated by one statement (two processes: one
    row); a hold never turns a charge back into a hold."""
    spec, key = _checked(pool, period_key, fen, about)
    values = {"pool": spec.key, "period_key": key, "amount_fen": fen, "about": about,
              "staff_id": staff_id, "state": state, "at": clock.now()}  # fmt: skip
    postgresql = session.bind.dialect.name == "postgresql"
    # Core, on the session's connection: no ORM object is involved, and session.execute would
    # take the INSERT through the ORM's bulk path first (see team.mark_update).
    conn = await connection(session)
    await conn.execute(
        _upsert(postgresql, state), {f"new_{name}": value for name, value in values.items()}
    )


@cache
def _upsert(postgresql: bool, state: str):
    # Built once per dialect and state, on the table (no ORM object is involved); parameters
    # are not named after the columns, which an INSERT keeps for its VALUES.
    table = BudgetCharge.__table__
    names = ("pool", "period_key", "amount_fen", "about", "staff_id", "state", "at")
    stmt = insert_for_dialect(postgresql)(table).values({n: bindparam(f"new_{n}") for n in names})
    held = table.c.state == ChargeState.HELD if state == ChargeState.HELD else None
    return stmt.on_conflict_do_update(
        index_elements=["about"],
        set_={name: stmt.excluded[name] for name in names if name != "about"},
        where=held,
    )


async def _charges(
    session: AsyncSession, pool: str, keys: list[str], about: str | None
) -> tuple[int, int, int]:
    """(charged, held) in the pool over `keys`, leaving out `about`, and `about`'s own amount."""
    query = select(BudgetCharge.state, func.coalesce(func.sum(BudgetCharge.amount_fen), 0)).where(
        BudgetCharge.pool == pool, BudgetCharge.period_key.in_(keys)
    )
    if about is not None:
        query = query.where(BudgetCharge.about != about)
    sums = {
        state: int(total)
        for state, total in await session.execute(query.group_by(BudgetCharge.state))
    }
    item = 0
    if about is not None:
        own = await session.scalar(
            select(BudgetCharge.amount_fen).where(BudgetCharge.about == about)
        )
        item = int(own or 0)
    return sums.get(ChargeState.CHARGED, 0), sums.get(ChargeState.HELD, 0), item


@event.listens_for(ActivityPlan, "after_insert")
@event.listens_for(ActivityPlan, "after_update")
def plan_charge(_mapper, connection, plan: ActivityPlan) -> None:
    """A plan's money in the activities pool follows its row, however the row was written (the
    engine's decision, the results filed, a plan built by hand): held while pending, charged
    once approved, running or completed (at its actual cost when known), none otherwise.

    The engine's own moves (a decision, a withdrawal) are single UPDATEs of the request, which
    no mapper event sees: its budget listener calls follow_plan after each."""
    # The row as written (an attribute of the instance may be expired: no lazy load in a flush).
    table = ActivityPlan.__table__
    parent = ApprovalRequest.__table__
    row = connection.execute(
        select(parent.c.status, parent.c.proposer_id, table.c.budget_fen,
               table.c.actual_cost_fen, table.c.budget_period)
        .select_from(table.join(parent, parent.c.id == table.c.id))
        .where(table.c.id == plan.id)
    ).one()  # fmt: skip
    about = f"req:{plan.id}"
    connection.execute(delete(BudgetCharge).where(BudgetCharge.about == about))
    fen = row.budget_fen
    if row.status == PlanStatus.COMPLETED and row.actual_cost_fen is not None:
        fen = row.actual_cost_fen
    if row.status == PlanStatus.PENDING:
        state = ChargeState.HELD
    elif row.status in COMMITTED:
        state = ChargeState.CHARGED
    else:
        return
    if fen:
        connection.execute(
            insert(BudgetCharge).values(
                pool=ACTIVITIES, period_key=row.budget_period, amount_fen=fen, about=about,
                staff_id=row.proposer_id, state=state, at=clock.now(),
            )
        )  # fmt: skip


async def follow_plan(session: AsyncSession, plan: ActivityPlan) -> None:
    """Bring a plan's charge in line with its row (after the engine moved it)."""
    await session.run_sync(lambda sync: plan_charge(None, sync.connection(), plan))
