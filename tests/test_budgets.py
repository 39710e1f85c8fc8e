"""Budget pools: amounts per month or quarter, holds and charges, /budget listing every pool."""

import os
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, select
from support import make_staff

from bot import clock
from bot.calendar import Period
from bot.config import ConfigError, TeamSettings, load_settings
from bot.models import ActivityPlan, AuditLog, Budget
from bot.services import activities, budgets, periods, team
from bot.services import staff as staff_service
from bot.services.budgets import BudgetError, Pool, PoolName, PoolView
from bot.services.staff import Person

pytestmark = pytest.mark.databases

HOSTILE = "<zz>&"
EXPENSES = budgets.DEFAULT_POOLS[1]
ADVERTISING = budgets.DEFAULT_POOLS[2]
MONTH = "2026-12"


@pytest.fixture
async def boss(sessions):
    """A director who sets amounts."""
    async with sessions() as s, s.begin():
        await team.ensure(s, TeamSettings(directors=[]))
        return await staff_service.add(s, Person(1001, "Zhang", None, "zh"), ("director",), None)


async def _in(sessions, call, *args, **kwargs):
    async with sessions() as s, s.begin():
        return await call(s, *args, **kwargs)


async def _then(sessions, call, pool, period_key, *args):
    """Hold or charge, then the pool as it stands."""
    async with sessions() as s, s.begin():
        await call(s, pool, period_key, *args)
        return await budgets.remainder(s, pool, period_key)


def _figures(view: PoolView) -> tuple:
    return view.budget, view.charged, view.pending, view.left, view.over


# ---- the arithmetic --------------------------------------------------------------------------


async def test_it_sets_holds_charges_and_releases(sessions, boss):
    await _in(sessions, budgets.set_amount, "expenses", MONTH, 2_000_000, boss)
    view = await _then(sessions, budgets.hold, "expenses", MONTH, 300_000, "req:1", boss.id)
    assert _figures(view) == (2_000_000, 0, 300_000, 1_700_000, False)

    view = await _then(sessions, budgets.charge, "expenses", MONTH, 1_200_000, "req:2", boss.id)
    assert _figures(view) == (2_000_000, 1_200_000, 300_000, 500_000, False)

    # Approval: the hold becomes a charge.
    view = await _then(sessions, budgets.charge, "expenses", MONTH, 300_000, "req:1", boss.id)
    assert _figures(view) == (2_000_000, 1_500_000, 0, 500_000, False)

    assert await _in(sessions, budgets.release, "req:2") is True
    assert await _in(sessions, budgets.release, "req:2") is False  # nothing left to give back
    view = await _in(sessions, budgets.remainder, "expenses", MONTH)
    assert _figures(view) == (2_000_000, 300_000, 0, 1_700_000, False)
    # Other pools and months are untouched.
    assert _figures(await _in(sessions, budgets.remainder, "expenses", "2026-11")) == (
        None, 0, 0, None, False,
    )  # fmt: skip
    assert (await _in(sessions, budgets.remainder, "advertising", MONTH)).charged == 0


async def test_charging_twice_counts_once(sessions, boss):
    for _ in range(2):
        view = await _then(sessions, budgets.charge, "expenses", MONTH, 600_000, "req:7", boss.id)
    assert (view.charged, view.pending) == (600_000, 0)
    # Again with the actual cost: still one charge, at the latest amount.
    view = await _then(sessions, budgets.charge, "expenses", MONTH, 550_000, "req:7", boss.id)
    assert (view.charged, view.pending) == (550_000, 0)
    # A late hold (a resubmission racing the approval) does not undo the charge.
    view = await _then(sessions, budgets.hold, "expenses", MONTH, 900_000, "req:7", boss.id)
    assert (view.charged, view.pending) == (550_000, 0)


async def test_holding_again_updates_the_pending_amount(sessions, boss):
    await _in(sessions, budgets.hold, "expenses", MONTH, 300_000, "req:3", boss.id)
    view = await _then(sessions, budgets.hold, "expenses", MONTH, 200_000, "req:3", boss.id)
    assert (view.charged, view.pending) == (0, 200_000)
    assert await _in(sessions, budgets.release, "req:3")
    assert (await _in(sessions, budgets.remainder, "expenses", MONTH)).pending == 0


async def test_over_budget_is_marked_and_the_card_line_says_by_how_much(sessions, boss):
    await _in(sessions, budgets.set_amount, "expenses", MONTH, 2_000_000, boss)
    await _in(sessions, budgets.charge, "expenses", MONTH, 1_200_000, "req:1", boss.id)
    await _in(sessions, budgets.hold, "expenses", MONTH, 300_000, "req:2", boss.id)
    await _in(sessions, budgets.hold, "expenses", MONTH, 600_000, "req:3", boss.id)

    # The claim's own card: what is left for it (itself not counted), and that it does not fit.
    view = await _in(sessions, budgets.remainder, EXPENSES, MONTH, about="req:3")
    assert (view.left, view.item, view.over, view.overrun) == (500_000, 600_000, True, 100_000)
    assert budgets.card_line(view, "zh") == (
        "费用预算（2026年12月）：剩余 ¥5,000.00；本单 ¥6,000.00，超出 ¥1,000.00 ⚠️"
    )
    assert budgets.card_line(view, "en") == (
        "Expenses budget (December 2026): ¥5,000.00 left; this one ¥6,000.00, over by ¥1,000.00 ⚠️"
    )
    # The whole pool: overspent once every pending claim is counted.
    pool = await _in(sessions, budgets.remainder, EXPENSES, MONTH)
    assert (pool.left, pool.over, pool.overrun) == (-100_000, True, 100_000)
    assert budgets.card_line(pool, "zh") == "费用预算（2026年12月）：超出 ¥1,000.00 ⚠️"

    # The bigger claim rejected: the smaller one fits in what is left.
    await _in(sessions, budgets.release, "req:3")
    fits = await _in(sessions, budgets.remainder, EXPENSES, MONTH, about="req:2")
    assert (fits.left, fits.over) == (800_000, False)
    assert budgets.card_line(fits, "zh") == "费用预算（2026年12月）：剩余 ¥8,000.00；本单 ¥3,000.00"


async def test_the_card_line_without_a_budget_or_an_item(sessions, boss):
    view = await _in(sessions, budgets.remainder, EXPENSES, MONTH)
    assert budgets.card_line(view, "zh") == "费用预算（2026年12月）：未设置"
    assert budgets.card_line(replace(view, item=600_000), "zh") == (
        "费用预算（2026年12月）：未设置；本单 ¥6,000.00"
    )
    await _in(sessions, budgets.set_amount, "expenses", MONTH, 800_000, boss)
    view = await _in(sessions, budgets.remainder, EXPENSES, MONTH)
    assert budgets.card_line(replace(view, item=600_000), "en") == (
        "Expenses budget (December 2026): ¥8,000.00 left; this one ¥6,000.00"
    )


async def test_a_quarterly_pool_counts_its_months_and_is_set_per_quarter(sessions, boss):
    assert budgets.period_key(ADVERTISING, date(2026, 11, 5)) == "2026-Q4"
    assert budgets.period_key(EXPENSES, date(2026, 11, 5)) == "2026-11"
    await _in(sessions, budgets.set_amount, "advertising", "2026-Q4", 5_000_000, boss)
    await _in(sessions, budgets.charge, "advertising", "2026-10", 1_000_000, "ad:1", boss.id)
    view = await _then(sessions, budgets.hold, "advertising", "2026-Q4", 500_000, "ad:2", boss.id)
    assert (view.period, view.budget, view.charged, view.pending) == (
        "2026-Q4", 5_000_000, 1_000_000, 500_000,
    )  # fmt: skip
    assert (await _in(sessions, budgets.remainder, "advertising", MONTH)).period == "2026-Q4"
    with pytest.raises(BudgetError) as refused:
        await _in(sessions, budgets.set_amount, "advertising", MONTH, 1, boss)
    assert refused.value.reason == "per_quarter" and refused.value.details["quarter"] == "2026-Q4"


async def test_a_month_without_its_own_amount_falls_under_its_quarter(sessions, boss):
    await _in(sessions, budgets.set_amount, "expenses", "2026-Q4", 3_000_000, boss)
    await _in(sessions, budgets.charge, "expenses", "2026-10", 1_000_000, "req:1", boss.id)
    await _in(sessions, budgets.hold, "expenses", MONTH, 400_000, "req:2", boss.id)
    view = await _in(sessions, budgets.remainder, "expenses", MONTH)
    assert (view.period, view.budget, view.charged, view.pending) == (
        "2026-Q4", 3_000_000, 1_000_000, 400_000,
    )  # fmt: skip
    await _in(sessions, budgets.set_amount, "expenses", MONTH, 900_000, boss)  # its own wins
    view = await _in(sessions, budgets.remainder, "expenses", MONTH)
    assert (view.period, view.budget, view.charged, view.pending) == (MONTH, 900_000, 0, 400_000)


async def test_a_default_amount_applies_until_one_is_set(sessions, boss):
    travel = Pool(key="travel", name=PoolName(zh="差旅", en="Travel"), amount=Decimal("800.5"))
    assert (await _in(sessions, budgets.remainder, travel, MONTH)).budget == 80_050
    await _in(sessions, budgets.set_amount, travel, MONTH, 100_000, boss)
    assert (await _in(sessions, budgets.remainder, travel, MONTH)).budget == 100_000
    async with sessions() as s:
        row = await s.get(Budget, ("travel", MONTH))
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "budget.set"))
    assert row.set_by == boss.id and audit.target == f"budget:travel:{MONTH}"


async def test_bad_amounts_and_periods_are_refused(sessions, boss):
    for call, args, reason in [
        (budgets.set_amount, ("expenses", MONTH, -1, boss), "amount"),
        (budgets.set_amount, ("expenses", "2026-13", 1, boss), "bad_period"),
        (budgets.set_amount, ("expenses", "2026-W50", 1, boss), "bad_period"),
        (budgets.hold, ("expenses", MONTH, -5, "req:1", None), "amount"),
        (budgets.remainder, ("Not A Key", MONTH), "unknown_pool"),
    ]:
        with pytest.raises(BudgetError) as refused:
            await _in(sessions, call, *args)
        assert refused.value.reason == reason
    assert _figures(await _in(sessions, budgets.remainder, "expenses", MONTH))[0] is None


async def test_the_activities_pool_gives_the_activity_budget_figures(sessions, boss):
    """Approved, running and completed plans (at their actual cost) are charged, pending ones
    are pending: the same figures activities.budget_left and budget_report give."""
    plans = [  # (status, budget, actual cost, month)
        ("approved", 300_000, None, MONTH),
        ("running", 200_000, None, MONTH),
        ("completed", 400_000, 350_000, MONTH),
        ("pending", 150_000, None, MONTH),
        ("rejected", 900_000, None, MONTH),
        ("approved", 700_000, None, "2026-11"),
    ]
    async with sessions() as s, s.begin():
        for status, fen, actual, month in plans:
            start = Period.parse(month).start
            s.add(ActivityPlan(
                proposer_id=boss.id, status=status, title="t", answers={}, fields={},
                budget_fen=fen, actual_cost_fen=actual, start_date=start, end_date=start,
                budget_period=month, submitted_at=clock.now(), created_at=clock.now(),
                updated_at=clock.now(),
            ))  # fmt: skip
        await activities.set_budget(s, MONTH, 2_000_000, boss)
    async with sessions() as s:
        view = await budgets.remainder(s, "activities", MONTH)
        left = await activities.budget_left(s, MONTH)
        report = await activities.budget_report(s, MONTH)
    assert (view.budget, view.charged) == left == (2_000_000, 850_000)
    assert view.charged == report.reserved + report.used and view.pending == report.waiting
    assert (view.pending, view.left) == (150_000, 1_000_000)

    async with sessions() as s, s.begin():  # the quarter, as decision 27 has it
        await activities.set_budget(s, "2026-Q4", 5_000_000, boss)
        await s.execute(delete(Budget).where(Budget.period_key == MONTH))
    async with sessions() as s:
        view = await budgets.remainder(s, "activities", MONTH)
        assert (view.budget, view.charged) == await activities.budget_left(s, MONTH)
    assert (view.period, view.budget, view.charged, view.pending) == (
        "2026-Q4", 5_000_000, 1_550_000, 150_000,
    )  # fmt: skip


# ---- configuration ---------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No OPSBOT_* variables and no ./opsbot.toml but the test's own."""
    for key in [k for k in os.environ if k.startswith("OPSBOT_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_the_shipped_pools_and_a_configured_one(clean_env, tmp_path):
    shipped = budgets.pools(load_settings())
    assert [(p.key, p.name.zh, p.period) for p in shipped] == [
        ("activities", "活动", "month"), ("expenses", "费用", "month"),
        ("advertising", "广告", "quarter"),
    ]  # fmt: skip
    (tmp_path / "opsbot.toml").write_text(
        '[[budgets.pools]]\nkey = "activities"\nname = { zh = "活动", en = "Activities" }\n'
        '[[budgets.pools]]\nkey = "travel"\nname = { zh = "差旅", en = "Travel" }\n'
        'period = "quarter"\namount = 30000\n',
        encoding="utf-8",
    )
    configured = budgets.pools(load_settings())
    assert [p.key for p in configured] == ["activities", "travel"]
    assert configured[1].default_fen == 3_000_000
    assert (
        budgets.find(configured, "差旅预算") is budgets.find(configured, "TRAVEL") is configured[1]
    )
    assert budgets.find(configured, "费用") is None


@pytest.mark.parametrize(
    ("pools", "says"),
    [
        ([{"key": "expenses", "name": {"zh": "费用", "en": "Expenses"}}], "keep the 'activities'"),
        ([{"key": "activities", "name": {"zh": "活动", "en": "A"}}] * 2, "share a key"),
        ([{"key": "Bad Key", "name": {"zh": "x", "en": "x"}}], "lowercase"),
        ([{"key": "activities", "name": {"zh": "活动", "en": "A"}, "period": "week"}], "period"),
    ],
)
def test_a_wrong_pool_stops_start_up_naming_the_key(clean_env, pools, says):
    with pytest.raises(ConfigError) as wrong:
        load_settings(budgets={"pools": pools})
    assert "budgets.pools" in str(wrong.value) and says in str(wrong.value)


# ---- /budget ---------------------------------------------------------------------------------


async def _team(sessions, director, user_ops_manager, channel_manager):
    """Director 1001 (zh) from config, a second director Li Na (en), Wang (activity)."""
    await make_staff(sessions, user_ops_manager, "director")
    await make_staff(sessions, channel_manager, "activity")
    for persona in (director, user_ops_manager, channel_manager):
        await persona.send("/help")


async def test_e2e_budget_lists_every_pool_for_its_current_period(
    app, sim, sessions, director, user_ops_manager, channel_manager
):
    await _team(sessions, director, user_ops_manager, channel_manager)
    today = clock.now().astimezone(app.bot_data.settings.team.tz).date()
    month, quarter = (Period.containing(k, today) for k in ("month", "quarter"))
    async with sessions() as s, s.begin():
        boss = await staff_service.by_telegram_id(s, director.id)
        await budgets.set_amount(s, "expenses", month.key, 2_000_000, boss)
        await budgets.charge(s, "expenses", month.key, 1_200_000, "req:1", boss.id)
        await budgets.hold(s, "expenses", month.key, 300_000, "req:2", boss.id)
        await budgets.set_amount(s, "advertising", quarter.key, 100_000, boss)
        await budgets.charge(s, "advertising", quarter.key, 150_000, "ad:1", boss.id)

    await director.send("/budget")

    lines = director.inbox[-1].plain.splitlines()
    zh_month, zh_quarter = periods.label(month, "zh"), periods.label(quarter, "zh")
    assert f"活动预算（{zh_month}）：未设置；已用 ¥0.00，待批 ¥0.00" in lines
    assert (
        f"费用预算（{zh_month}）：¥20,000.00，已用 ¥12,000.00，待批 ¥3,000.00，剩余 ¥5,000.00"
        in lines
    )
    assert (
        f"广告预算（{zh_quarter}）：¥1,000.00，已用 ¥1,500.00，待批 ¥0.00，超出 ¥500.00 ⚠️" in lines
    )

    await channel_manager.send("/budget")  # not a director: refused, nothing shown
    assert "预算（" not in channel_manager.inbox[-1].plain


async def test_e2e_budget_sets_a_pool_by_its_name_or_key(
    app, sim, sessions, director, user_ops_manager, channel_manager
):
    await _team(sessions, director, user_ops_manager, channel_manager)

    await director.send("/budget 费用 2026-12 30000")
    assert "已保存：2026年12月的费用预算为 ¥30,000.00。" in director.inbox[-1].plain
    await user_ops_manager.send("/budget expenses 2027-01 1,200.50")
    answer = user_ops_manager.inbox[-1].plain
    assert "Saved: the Expenses budget for January 2027 is ¥1,200.50." in answer
    assert "Activities budget (January 2027): No budget is set" in answer
    assert "Advertising budget (Q1 2027)" in answer
    await director.send("/budget 广告预算 2027-Q1 8万")
    assert "广告预算为 ¥80,000.00" in director.inbox[-1].plain
    # Without a pool's name, /budget still sets the activity budget.
    await director.send("/budget 2026-12 5万")
    assert "已保存：2026年12月的活动预算为 ¥50,000.00。" in director.inbox[-1].plain

    async with sessions() as s:
        view = await budgets.remainder(s, "expenses", "2027-01")
        assert view.budget == 120_050
        assert (await budgets.remainder(s, "expenses", "2026-12")).budget == 3_000_000
        assert (await budgets.remainder(s, "advertising", "2027-02")).budget == 8_000_000
        assert await activities.budget_left(s, "2026-12") == (5_000_000, 0)


async def test_e2e_budget_refusals_say_what_to_do_and_change_nothing(
    app, sim, sessions, director, user_ops_manager, channel_manager
):
    await _team(sessions, director, user_ops_manager, channel_manager)

    await director.send("/budget 广告 2026-12 30000")
    assert "广告预算按季度设置，例如 /budget 广告 2026-Q4 30000。" in director.inbox[-1].plain
    await director.send(f"/budget 差旅{HOSTILE} 3000")
    answer = director.inbox[-1].plain
    assert f"没有名为“差旅{HOSTILE}”的预算。现有预算：活动、费用、广告" in answer
    await user_ops_manager.send("/budget expenses 2026-12 -3")
    assert "zero or more" in user_ops_manager.inbox[-1].plain
    await user_ops_manager.send("/budget expenses 2026-13 3")
    assert "YYYY-MM" in user_ops_manager.inbox[-1].plain

    async with sessions() as s:
        assert list(await s.scalars(select(Budget))) == []


# ---- templates (tests/test_i18n.py and test_typography.py read these) ------------------------

_LINE = dict(
    name=HOSTILE, period="2026年12月", budget="¥1.00", charged="¥0.50", pending="¥0.00",
    left="¥0.50", item="¥0.80", over=True, overrun="¥0.30",
)  # fmt: skip
CONTEXTS = {
    "budget_line.html.j2": _LINE,
    "budget_overview.html.j2": dict(
        lines=[_LINE, _LINE | dict(over=False), _LINE | dict(budget=None, left=None)],
        saved=_LINE,
        example=HOSTILE,
        month="2026-12",
        quarter="2026-Q4",
    ),
    "budget_error.html.j2": dict(
        reason="unknown_pool",
        text=HOSTILE,
        names=[HOSTILE, "费用"],
        name="",
        quarter="",
        month="2026-12",
    ),
}
NO_USER_INPUT: set[str] = set()


@pytest.mark.parametrize("locale", ["zh", "en"])
@pytest.mark.parametrize("reason", ["amount", "bad_period", "per_quarter", "unknown_pool"])
def test_every_refusal_renders(locale, reason):
    from bot.render import render
    from bot.simulator.html import parse_html

    context = CONTEXTS["budget_error.html.j2"] | dict(reason=reason, name="费用", quarter="2026-Q4")
    assert parse_html(render("budget_error.html.j2", locale, **context))[0].strip()


def test_a_pool_view_is_plain_arithmetic():
    unset, full = PoolView(EXPENSES, MONTH, None, 5, 5), PoolView(EXPENSES, MONTH, 10, 4, 6)
    assert (unset.left, unset.over, full.left, full.over) == (None, False, 0, False)
    assert replace(full, item=1).overrun == 1 and replace(unset, item=1).overrun == 0
