"""The KPI rules without Telegram or a database: typed targets, names, ids, and how values read."""

from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from bot.kpis.display import per_day, show
from bot.kpis.spec import default_kpi
from bot.services import kpi_view
from bot.services.kpi import Result
from bot.services.kpi_input import (
    VALUE_MAX,
    InputError,
    by_name,
    check_holder,
    is_team,
    kpi_keyed,
    kpi_named,
    parse_value,
    plain,
    row_id,
)
from bot.services.targets import TargetError

KPIS = default_kpi()
DOWNLOADS, CONTRACTS, RETENTION = (KPIS.get(k) for k in ("downloads", "contracts", "retention"))


def person(name: str, *roles: str, id_: int = 1):
    return SimpleNamespace(id=id_, display_name=name, role_names=set(roles))


# ---- typed values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "spec", "value"),
    [
        ("1.2万", DOWNLOADS, D(12000)),
        ("三", CONTRACTS, D(3)),  # Chinese numerals are numbers
        ("两家", CONTRACTS, D(2)),  # the unit may follow
        ("４０００", DOWNLOADS, D(4000)),  # full-width digits from a Chinese keyboard
        (" 4,000 downloads ", DOWNLOADS, D(4000)),  # the English unit too
        ("百分之40", RETENTION, D("0.4")),
        ("40.5%", RETENTION, D("0.405")),
        ("0.4", RETENTION, D("0.4")),  # already a rate
        ("1", RETENTION, D(1)),  # 1 is 100 %, not 1 %
        ("100", RETENTION, D(1)),
    ],
)
def test_a_typed_target_is_read_as_people_write_it(typed, spec, value):
    assert parse_value(typed, spec) == value


@pytest.mark.parametrize(
    ("typed", "spec", "reason"),
    [
        ("0.4", CONTRACTS, "not_whole"),  # 0.4 家 cannot be signed
        ("4.5", DOWNLOADS, "not_whole"),
        ("40%", DOWNLOADS, "bad_value"),  # a count is not a percentage
        ("百分之40", CONTRACTS, "bad_value"),
        (str(VALUE_MAX + 1), DOWNLOADS, "bad_value"),  # a typo, not a plan
        ("1e5", DOWNLOADS, "bad_value"),
        ("很多", DOWNLOADS, "bad_value"),
    ],
)
def test_a_value_that_cannot_be_a_target_is_refused_with_its_reason(typed, spec, reason):
    with pytest.raises(InputError) as refused:
        parse_value(typed, spec)
    assert refused.value.reason == reason
    assert refused.value.details == {"text": typed, "kpi": spec.key}


def test_a_target_of_zero_is_refused_as_not_positive():
    for typed in ("0", "0%", "零"):
        with pytest.raises(TargetError) as refused:
            parse_value(typed, RETENTION if "%" in typed else DOWNLOADS)
        assert refused.value.reason == "not_positive"


def test_a_rate_keeps_four_places():
    assert parse_value("33.333%", RETENTION) == D("0.3333")


def test_plain_values_for_button_data_read_back_the_same():
    assert plain(D("4000.0000")) == "4000"
    assert plain(D("0.4000")) == "0.4"
    assert plain(D("1E+4")) == "10000"  # never exponent notation in button data
    for value in (D("12000.0000"), D("0.3333")):
        assert D(plain(value)) == value


def test_row_ids_are_short_ascii_digits_only():
    assert row_id("42") == 42
    assert row_id("9" * 18) == int("9" * 18)
    for bad in ("", "-1", "1.0", "٣", "²", "9" * 19, "12a"):
        with pytest.raises(ValueError):
            row_id(bad)


# ---- names -----------------------------------------------------------------------------------


def test_the_team_by_any_of_its_words():
    assert all(is_team(w) for w in ("team", "TEAM", "团队", "全队", "全部门"))
    assert not is_team("王伟")


def test_a_person_by_name_ignores_spaces_and_case_and_needs_one_match():
    wang, wei, lina = person("王伟", id_=1), person("王伟伟", id_=2), person("Li Na", id_=3)
    people = [wang, wei, lina]
    assert by_name(people, "王 伟") is wang  # exact beats contained
    assert by_name(people, "lina") is lina
    assert by_name(people, "伟伟") is wei
    assert by_name(people, "王") is None  # two people: nobody is guessed
    assert by_name(people, "  ") is None
    assert by_name(people, "张三") is None


def test_a_kpi_by_key_or_by_either_name():
    assert kpi_named(KPIS, "Downloads") is DOWNLOADS
    assert kpi_named(KPIS, "签约渠道完成度") is CONTRACTS
    assert kpi_named(KPIS, "user retention rate") is RETENTION
    assert kpi_keyed(KPIS, "contracts") is CONTRACTS
    for find, word in ((kpi_named, "销量"), (kpi_keyed, "签约渠道完成度")):
        with pytest.raises(InputError) as refused:
            find(KPIS, word)
        assert refused.value.reason == "unknown_kpi"


def test_a_personal_target_only_for_someone_the_kpi_applies_to():
    check_holder(CONTRACTS, None)  # the team always holds it
    check_holder(CONTRACTS, person("王伟", "channel"))
    with pytest.raises(InputError) as refused:
        check_holder(CONTRACTS, person("李娜", "user_ops"))
    assert refused.value.reason == "not_holder"
    assert refused.value.details == {"name": "李娜", "kpi": "contracts"}


# ---- how values read -------------------------------------------------------------------------


def test_values_read_with_their_unit_and_rates_to_a_tenth_of_a_percent():
    assert show(DOWNLOADS, D("12000.0000"), "zh") == "12,000 次"
    assert show(DOWNLOADS, D(12000), "en") == "12,000 downloads"
    assert show(RETENTION, D("0.4"), "zh") == "40.0%"
    assert show(RETENTION, D("0.33333"), "en") == "33.3%"
    assert show(CONTRACTS, None, "zh") == "—"


def test_a_target_per_working_day_is_whole_units_never_a_fraction():
    assert per_day(DOWNLOADS, D(2600), 20, "zh") == "130 次"
    assert per_day(DOWNLOADS, D(2610), 20, "zh") == "130–131 次"
    assert per_day(CONTRACTS, D(4), 10, "zh") == "0–1 家"  # never 0.4 家
    assert per_day(CONTRACTS, D(4), 10, "en") == "0–1 channels"


def test_a_card_line_says_the_pace_in_whole_units_and_on_plan_when_done():
    behind = kpi_view.line(Result(CONTRACTS, D(1), D(4), D("0.25")), "zh", 17, weighted=True)
    assert (behind.actual, behind.target, behind.pace) == ("1 家", "4 家", "1 家")  # not 0.2 家
    assert (behind.weight, behind.completion, behind.on_plan) == ("30", "25%", False)
    ahead = kpi_view.line(Result(CONTRACTS, D(5), D(4), D("1.25")), "zh", 3, weighted=False)
    assert (ahead.pace, ahead.on_plan, ahead.weight, ahead.bar) == (None, True, None, "▓" * 10)
    later = kpi_view.line(Result(CONTRACTS, D(1), D(4), D("0.25")), "zh", None, weighted=True)
    assert later.pace is None and not later.on_plan  # not the current month: no pace
    rate = kpi_view.line(Result(RETENTION, D("0.3"), D("0.4"), D("0.75")), "zh", 5, weighted=True)
    assert rate.pace is None and rate.actual == "30.0%"  # a rate has no daily pace


def test_a_zero_share_is_a_plan_of_zero_not_a_missing_target():
    zero = kpi_view.line(
        Result(CONTRACTS, D(1), D(0), None, "no_target"), "zh", None, weighted=True
    )
    missing = kpi_view.line(Result(CONTRACTS, D(1), None, None, "no_target"), "zh", None,
                            weighted=True)  # fmt: skip
    assert (zero.problem, missing.problem) == ("zero_target", "no_target")


def test_scores_read_as_amounts_and_the_team_states_the_highest_maximum():
    def card(score, best):
        return SimpleNamespace(score=score, max_score=best)

    assert kpi_view.score(card(D("87.25"), D(120))) == "87.3"
    assert kpi_view.best(card(None, D(120))) == "120"
    assert kpi_view.score(card(None, None)) is None and kpi_view.best(card(None, None)) is None
    assert kpi_view.team_best([card(None, D(110)), card(None, D(120)), card(None, None)]) == "120"
    assert kpi_view.team_best([card(None, None)]) is None
