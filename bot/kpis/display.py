"""How KPI numbers look in messages: percentages, amounts, values with their unit, bars."""

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from bot.kpis.spec import KpiSpec

BAR_CELLS = 10


def pct(ratio: Decimal | float | None, places: int = 0) -> str:
    """0.725 -> "73%" (or "72.5%" with places=1); None -> "—"."""
    if ratio is None:
        return "—"
    value = (Decimal(str(ratio)) * 100).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return f"{value}%"


def amount(value: Decimal | float | int | None) -> str:
    """1234.5 -> "1,234.5", 3000.0000 -> "3,000"; at most one decimal place; None -> "—"."""
    if value is None:
        return "—"
    number = Decimal(str(value)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,.1f}"


def bar(ratio: Decimal | float | None, cells: int = BAR_CELLS) -> str:
    """A completion bar: ▓ per tenth reached, ░ for the rest; full at 100 % and beyond."""
    if ratio is None:
        return "░" * cells
    filled = min(cells, max(0, int(Decimal(str(ratio)) * cells)))
    return "▓" * filled + "░" * (cells - filled)


def change(now: Decimal | None, before: Decimal | None) -> str:
    """The change of a ratio in percentage points: "+5", "-12", "±0"; "" when unknown."""
    if now is None or before is None:
        return ""
    points = ((now - before) * 100).quantize(Decimal(1), ROUND_HALF_UP)
    return "±0" if points == 0 else f"{points:+}"


def show(spec: KpiSpec, value: Decimal | None, locale: str) -> str:
    """A KPI's value as people read it: rates to 0.1 %, counts with their unit."""
    if value is None:
        return "—"
    if spec.percent:
        return pct(value, 1)
    return f"{amount(value)} {spec.unit.get(locale)}" if spec.unit else amount(value)


def per_day(spec: KpiSpec, value: Decimal, days: int, locale: str) -> str:
    """What a target spread over `days` working days means a day: "130" or "130–131 次"."""
    low = (value / days).to_integral_value(ROUND_FLOOR)
    if low * days == value:
        return show(spec, low, locale)
    span = f"{amount(low)}–{amount(low + 1)}"  # whole units, the extra one on the last days
    return f"{span} {spec.unit.get(locale)}" if spec.unit else span


FILTERS = {"pct": pct, "amount": amount, "bar": bar, "change": change}
