"""What a director types about KPIs: target values, KPI and person names, ids from buttons."""

from collections.abc import Iterable
from decimal import Decimal

from bot.forms.fields import FieldError, fold, halfwidth, parse_number
from bot.kpis.spec import KpiConfig, KpiSpec
from bot.models import Staff
from bot.services.errors import ServiceError
from bot.services.targets import TargetError

TEAM_WORDS = {"team", "团队", "全队", "全组", "部门", "全部门"}
# A typed target above this is a typo (the column holds 16 digits before the point).
VALUE_MAX = Decimal(10) ** 12
VALUE_PLACES = Decimal("0.0001")


class InputError(ServiceError):
    """What was typed cannot be used; `reason` picks the message."""


def parse_value(text: str, spec: KpiSpec) -> Decimal:
    """A typed target: "4000", "4,000", "1.2万"; for rates "40%" (or 40, or 0.4) is 0.4."""
    s = halfwidth(text).strip()
    for unit in (spec.unit.zh, spec.unit.en) if spec.unit else ():
        s = s.removesuffix(unit).strip()
    percent = s.endswith("%") or s.startswith("百分之")
    s = s.removesuffix("%").removeprefix("百分之")
    try:
        value = parse_number(s)
    except (FieldError, ValueError, ArithmeticError):
        raise InputError("bad_value", text=text, kpi=spec.key) from None
    if spec.percent and (percent or value > 1):  # 40 means 40 %; 0.4 is already a rate
        value /= 100
    if (percent and not spec.percent) or not value.is_finite() or value > VALUE_MAX:
        raise InputError("bad_value", text=text, kpi=spec.key)
    if spec.additive and value != value.to_integral_value():  # 4.5 channels cannot be signed
        raise InputError("not_whole", text=text, kpi=spec.key)
    value = value.quantize(VALUE_PLACES)
    if value <= 0:
        raise TargetError("not_positive", value=value, kpi=spec.key)
    return value


def plain(value: Decimal) -> str:
    """4000.0000 -> "4000", 0.4000 -> "0.4" (for button data)."""
    return f"{value.normalize():f}"


def row_id(text: str) -> int:
    """A database id from button data; ValueError (a stale button) unless 1–18 ASCII digits."""
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise ValueError(f"not a row id: {text[:20]!r}")
    return int(text)


def is_team(text: str) -> bool:
    """Whether a typed "who" means the whole team ("团队", "team", …)."""
    return fold(text) in TEAM_WORDS


def by_name(people: Iterable[Staff], text: str) -> Staff | None:
    """The one person whose name is `text` or contains it (spaces and case do not count)."""
    wanted = fold(text)
    if not wanted:
        return None
    people = list(people)
    exact = [p for p in people if fold(p.display_name) == wanted]
    found = exact or [p for p in people if wanted in fold(p.display_name)]
    return found[0] if len(found) == 1 else None


def kpi_named(config: KpiConfig, word: str) -> KpiSpec:
    """A KPI by key or by its name in either language."""
    wanted = fold(word)
    for spec in config.kpis:
        if wanted in (fold(spec.key), fold(spec.name.zh), fold(spec.name.en)):
            return spec
    raise InputError("unknown_kpi", text=word)


def kpi_keyed(config: KpiConfig, key: str) -> KpiSpec:
    """A KPI by its key (from button data or a stored prompt)."""
    spec = config.get(key)
    if spec is None:
        raise InputError("unknown_kpi", text=key)
    return spec


def check_holder(spec: KpiSpec, who: Staff | None) -> None:
    """A personal target only for someone assessed on the KPI (the team always is)."""
    if who is not None and not spec.applies_to(who.role_names):
        raise InputError("not_holder", name=who.display_name, kpi=spec.key)
