"""Tests for the field engine: typed answers, one-message reports, display and snapshots."""

import json
import pickle
from datetime import date
from decimal import Decimal

import pytest

from bot.forms.fields import (
    FieldContext,
    FieldError,
    display,
    display_from_snapshot,
    error_context,
    fields_snapshot,
    parse_answer,
    parse_choice_key,
    to_metric,
)
from bot.forms.oneshot import parse_message
from bot.forms.spec import FieldSpec, FormSpec, default_reports
from bot.render import render
from bot.simulator.html import parse_html

REPORTS = default_reports()
DAILY = REPORTS.form("daily_channel")
TODAY = date(2026, 1, 3)  # early January: "12-31" means last year
ZH = FieldContext("zh", TODAY, REPORTS.regions, REPORTS.industries)
EN = FieldContext("en", TODAY, REPORTS.regions, REPORTS.industries)
HOSTILE = "<zz>&"  # not <b>: the templates use <b> themselves
ESCAPED = "&lt;zz&gt;&amp;"


def spec(type_: str, **kw) -> FieldSpec:
    label = kw.pop("label", {"zh": "数量", "en": "Count"})
    return FieldSpec(key=kw.pop("key", "f"), type=type_, label=label, **kw)


def labels(zh: str, en: str) -> dict:
    return {"zh": zh, "en": en}


INT = spec("int", min=0, max=100_000)
INT_OPEN = spec("int")  # no bounds in config: the default cap applies
DEC = spec("decimal", decimals=2, min=0, max=100)
MONEY = spec("money", min=0, max=50_000)
TEXT = spec("text", max_length=20)
LONG = spec("longtext", max_length=1000)
DATE = spec("date")
REGION = spec("region")
INDUSTRY = spec("industry")
CHANNELS = spec("channels", max_items=3)
MODE = spec(
    "choice",
    choices=[
        {"key": "online", "label": labels("线上", "Online")},
        {"key": "offline", "label": labels("线下", "Offline")},
        {"key": "both", "label": labels("线上线下结合", "Both")},
    ],
)
TARGETS = spec(
    "multichoice",
    choices=[
        {"key": "property", "label": labels("物业", "Property management")},
        {"key": "power", "label": labels("电力企业", "Power company")},
        {"key": "other", "label": labels("其他", "Other")},
    ],
)
INDICATORS = spec(
    "group",
    max_items=3,
    fields=[
        {"key": "name", "type": "text", "label": labels("指标", "Indicator")},
        {"key": "value", "type": "int", "label": labels("数值", "Value"), "min": 0},
        {"key": "unit", "type": "text", "label": labels("单位", "Unit"), "required": False},
    ],
)


def parsed(field: FieldSpec, text: str, ctx: FieldContext = ZH):
    try:
        return parse_answer(field, text, ctx)
    except FieldError as error:
        return error.reason


# Numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        (" 42 ", 42),
        ("１２３", 123),
        ("1,234", 1234),
        ("1，234", 1234),
        ("12,345", 12345),
        ("+7", 7),
        ("0", 0),
        ("-0", 0),
        ("3个", 3),
        ("5家", 5),
        ("三", 3),
        ("十二", 12),
        ("二十", 20),
        ("一百零五", 105),
        ("一千二百", 1200),
        ("两千五", 2500),
        ("一万二", 12000),
        ("两万三千四百五十六", 23456),
        ("一二三", 123),
        ("1.2万", 12000),
        ("1.2w", 12000),
        ("3k", 3000),
        ("1万2", 12000),
        ("100000", 100_000),
        ("1,23", "not_a_number"),
        ("1 234", "not_a_number"),
        ("12a", "not_a_number"),
        ("1e5", "not_a_number"),
        ("NaN", "not_a_number"),
        ("nan", "not_a_number"),
        ("inf", "not_a_number"),
        ("-Infinity", "not_a_number"),
        ("0x10", "not_a_number"),
        ("10²", "not_a_number"),
        ("٣", "not_a_number"),  # Arabic-Indic digits: not what a Chinese team types
        ("--3", "not_a_number"),
        ("百", "not_a_number"),
        ("万", "not_a_number"),
        ("一万万", "not_a_number"),
        ("三三", 33),  # digit by digit, like 一二三
        ("一百一千", "not_a_number"),
        ("<script>", "not_a_number"),
        ("9" * 5000, "not_a_number"),
        ("2.5", "not_whole"),
        ("三点五", "not_whole"),
        ("1.00001万", "not_whole"),
        ("-1", "out_of_range"),
        ("负三", "out_of_range"),
        ("100001", "out_of_range"),
        ("1.2亿", "out_of_range"),
        ("", "empty"),
        ("   ", "empty"),
        ("\u3000\u200b", "empty"),
        ("4\x002", "control_chars"),
    ],
)
def test_it_parses_whole_numbers(text, expected):
    assert parsed(INT, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-5", -5),  # no min in config: negatives allowed down to the cap
        ("1000000000000", 10**12),
        ("1000000000001", "above_max"),
        ("999999999999999", "above_max"),
        ("1000000000000000", "above_max"),
        ("-1000000000001", "below_min"),
    ],
)
def test_it_caps_whole_numbers_without_configured_bounds(text, expected):
    assert parsed(INT_OPEN, text) == expected


def test_it_never_stores_a_quadrillion_whatever_the_config_says():
    huge = spec("int", max=1e18)
    assert parsed(huge, "999999999999999") == 999_999_999_999_999
    assert parsed(huge, "1000000000000000") == "above_max"


def test_it_states_the_bounds_for_the_message():
    with pytest.raises(FieldError) as caught:
        parse_answer(INT, "100001", ZH)
    assert caught.value.params == {"kind": "int", "min": "0", "max": "100,000"}
    with pytest.raises(FieldError) as caught:
        parse_answer(spec("int", min=1), "0", ZH)
    assert (caught.value.reason, caught.value.params) == ("below_min", {"kind": "int", "min": "1"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.5", "12.5"),
        ("12.50", "12.5"),
        ("012", "12"),
        ("100", "100"),
        ("0.01", "0.01"),
        ("三点五", "3.5"),
        ("零点五", "0.5"),
        ("１２.５", "12.5"),
        ("12.345", "too_many_decimals"),
        ("100.01", "out_of_range"),
        ("-0.5", "out_of_range"),
        ("1e1", "not_a_number"),
        ("12,5", "not_a_number"),
        ("nan", "not_a_number"),
    ],
)
def test_it_parses_decimals_exactly(text, expected):
    assert parsed(DEC, text) == expected


def test_it_asks_for_a_whole_number_when_a_decimal_allows_no_places():
    assert parsed(spec("decimal", decimals=0), "1.5") == "not_whole"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("300", 30000),
        ("¥300.50", 30050),
        ("￥300.5", 30050),
        ("300元", 30000),
        ("300 块", 30000),
        ("三百", 30000),
        ("三百块钱", 30000),
        ("1.2万", 1_200_000),
        ("1.2万元", 1_200_000),
        ("RMB 1,234.56", 123456),
        ("0.01", 1),
        ("5万", 5_000_000),
        ("50000.01", "out_of_range"),
        ("-1", "out_of_range"),
        ("1.234", "too_many_decimals"),
        ("元", "not_a_number"),
        ("$300", "not_a_number"),
        ("Infinity", "not_a_number"),
    ],
)
def test_it_parses_money_into_fen(text, expected):
    assert parsed(MONEY, text) == expected


def test_it_shows_money_bounds_in_yuan():
    with pytest.raises(FieldError) as caught:
        parse_answer(MONEY, "6万", ZH)
    assert caught.value.params == {"kind": "money", "min": "¥0", "max": "¥50,000"}


# Text


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        (TEXT, "  hello  ", "hello"),
        (TEXT, HOSTILE, HOSTILE),  # stored raw: templates escape
        (TEXT, "<script>alert(1)</script>", "too_long"),
        (TEXT, "<script>x", "<script>x"),
        (TEXT, "<b>bold</b> & co", "<b>bold</b> & co"),
        (TEXT, "👍🏽 好的 👨‍👩‍👧", "👍🏽 好的 👨‍👩‍👧"),
        (TEXT, "a\tb", "a b"),
        (TEXT, "two\nlines", "multiline"),
        (TEXT, "bell\x07", "control_chars"),
        (TEXT, "del\x7f", "control_chars"),
        (TEXT, "lone \ud800", "control_chars"),
        (TEXT, "\u200b", "empty"),
        (LONG, "第一行\r\n第二行\n\n第三行\n", "第一行\n第二行\n\n第三行"),
        (LONG, "nul\x00", "control_chars"),
        (LONG, "x" * 1000, "x" * 1000),
        (LONG, "x" * 5000, "too_long"),
    ],
)
def test_it_checks_text(field, text, expected):
    assert parsed(field, text) == expected


def test_it_reports_how_long_a_text_is():
    with pytest.raises(FieldError) as caught:
        parse_answer(LONG, "字" * 5000, ZH)
    assert caught.value.params == {"max_length": 1000, "length": 5000}


# Choices, regions, industries


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        (REGION, "沈阳", "shenyang"),
        (REGION, "沈阳市", "shenyang"),
        (REGION, "辽宁省沈阳市", "shenyang"),
        (REGION, "沈", "shenyang"),
        (REGION, "SHENYANG", "shenyang"),
        (REGION, "shen yang", "shenyang"),
        (REGION, "Ｄａｌｉａｎ", "dalian"),
        (REGION, "葫芦岛", "huludao"),
        (REGION, "其他", "other"),
        (REGION, "elsewhere", "other"),
        (REGION, "d", "ambiguous"),
        (REGION, "阳", "unknown_region"),  # one character inside 沈阳, 辽阳, 朝阳: too vague
        (REGION, "北京", "unknown_region"),
        (REGION, HOSTILE, "unknown_region"),
        (REGION, "🙂", "unknown_region"),
        (REGION, "x" * 5000, "unknown_region"),
        (INDUSTRY, "物业", "property"),
        (INDUSTRY, "电力", "power"),
        (INDUSTRY, "Demand side", "demand"),
        (INDUSTRY, "p", "ambiguous"),
        (INDUSTRY, "银行", "unknown_industry"),
        (MODE, "线上", "online"),
        (MODE, "OFFLINE", "offline"),
        (MODE, "both", "both"),
        (MODE, "线", "ambiguous"),
        (MODE, "随便", "unknown_choice"),
        (TARGETS, "物业、电力企业", ["property", "power"]),
        (TARGETS, "电力, 物业", ["property", "power"]),  # stored in the form's order
        (TARGETS, "物业 电力", ["property", "power"]),
        (TARGETS, "Property management; power company", ["property", "power"]),
        (TARGETS, "other，Other", ["other"]),
        (TARGETS, "1. 物业\n2. 其他", ["property", "other"]),
        (TARGETS, "物业、银行", "unknown_choice"),
        (TARGETS, " 、 ", "empty"),
    ],
)
def test_it_matches_choices_by_label_or_key(field, text, expected):
    assert parsed(field, text) == expected


def test_it_names_the_options_in_the_users_language():
    with pytest.raises(FieldError) as caught:
        parse_answer(MODE, "maybe", EN)
    assert caught.value.params == {"options": "Online, Offline, Both"}
    with pytest.raises(FieldError) as caught:
        parse_answer(REGION, "d", ZH)
    assert caught.value.params == {"options": "大连、丹东"}


@pytest.mark.parametrize(
    ("field", "key", "expected"),
    [
        (MODE, "online", "online"),
        (MODE, "gone", "unknown_choice"),
        (TARGETS, "power", "power"),
        (REGION, "shenyang", "shenyang"),
        (REGION, "beijing", "unknown_region"),
        (INDUSTRY, "demand", "demand"),
        (INDUSTRY, "沈阳", "unknown_industry"),
        (INT, "1", "unknown_choice"),
    ],
)
def test_it_checks_keys_from_buttons(field, key, expected):
    try:
        assert parse_choice_key(field, key, ZH) == expected
    except FieldError as error:
        assert error.reason == expected


# Dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01", "2026-12-01"),
        ("2026/12/1", "2026-12-01"),
        ("2026.12.1", "2026-12-01"),
        ("2026年12月1日", "2026-12-01"),
        ("20261201", "2026-12-01"),
        ("２０２６－１２－０１", "2026-12-01"),
        ("二〇二六年十二月一日", "2026-12-01"),
        ("1月5日", "2026-01-05"),
        ("1月5号", "2026-01-05"),
        ("01-05", "2026-01-05"),
        ("12月31日", "2025-12-31"),  # the nearest: last New Year's Eve, not next
        ("12-31", "2025-12-31"),
        ("十二月三十一日", "2025-12-31"),
        ("5号", "2026-01-05"),
        ("30号", "2025-12-30"),
        ("今天", "2026-01-03"),
        ("明天", "2026-01-04"),
        ("昨天", "2026-01-02"),
        ("后天", "2026-01-05"),
        ("Today", "2026-01-03"),
        ("tomorrow", "2026-01-04"),
        ("yesterday", "2026-01-02"),
        ("Dec 1", "2025-12-01"),
        ("1 December 2026", "2026-12-01"),
        ("January 10th", "2026-01-10"),
        ("2026-02-29", "bad_date"),
        ("2026-13-01", "bad_date"),
        ("13/45", "bad_date"),
        ("星期一", "bad_date"),
        ("someday", "bad_date"),
        ("0001-01-01", "bad_date"),
        ("٢٠٢٦-١٢-٠١", "bad_date"),
        ("", "empty"),
        ("x" * 5000, "bad_date"),
    ],
)
def test_it_reads_dates_as_people_write_them(text, expected):
    assert parsed(DATE, text) == expected


# Channels and groups


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("万科物业, 国网沈阳供电公司", ["万科物业", "国网沈阳供电公司"]),
        ("A公司，B公司；C公司", ["A公司", "B公司", "C公司"]),
        ("A公司、a公司、A 公司", ["A公司"]),  # the first spelling wins
        ("1. 甲物业\n2. 乙物业\n\n", ["甲物业", "乙物业"]),
        ("  华润   置地  ", ["华润 置地"]),
        (HOSTILE, [HOSTILE]),
        ("a,b,c,d", "too_many"),
        ("x" * 129, "too_long"),
        (" ，；\n", "empty"),
        ("ok\x1b[31m", "control_chars"),
    ],
)
def test_it_splits_channel_names(text, expected):
    assert parsed(CHANNELS, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("下载量 1200 次", [{"name": "下载量", "value": 1200, "unit": "次"}]),
        ("下载量 / 1.2万 / 次", [{"name": "下载量", "value": 12000, "unit": "次"}]),
        ("下载量，1200，次", [{"name": "下载量", "value": 1200, "unit": "次"}]),
        ("App downloads 1,200 times", [{"name": "App downloads", "value": 1200, "unit": "times"}]),
        ("交付/上线 5 个", [{"name": "交付/上线", "value": 5, "unit": "个"}]),
        (
            "下载量 1200 次\n注册量 300；活跃 50",
            [
                {"name": "下载量", "value": 1200, "unit": "次"},
                {"name": "注册量", "value": 300},
                {"name": "活跃", "value": 50},
            ],
        ),
        ("下载量 abc 次", "bad_group_item"),
        ("下载量", "bad_group_item"),
        ("下载量 -1 次", "bad_group_item"),
        ("a 1\nb 2\nc 3\nd 4", "too_many"),
        ("1 " * 2500, "bad_group_item"),
        ("", "empty"),
    ],
)
def test_it_reads_group_items_one_per_line(text, expected):
    assert parsed(INDICATORS, text) == expected


def test_it_says_which_item_and_part_of_a_group_is_wrong():
    with pytest.raises(FieldError) as caught:
        parse_answer(INDICATORS, "下载量 1200 次\n注册量 很多 人", EN)
    assert caught.value.params == {
        "number": 2,
        "item": "注册量 很多 人",
        "expected": "Indicator / Value / Unit",
        "part": "Value",
    }


def test_it_keeps_error_details_through_pickling():
    error = pickle.loads(pickle.dumps(FieldError("too_long", max_length=3, length=5)))
    assert (error.reason, error.params) == ("too_long", {"max_length": 3, "length": 5})


# Display


@pytest.mark.parametrize(
    ("field", "value", "zh", "en"),
    [
        (INT, 1234567, "1,234,567", "1,234,567"),
        (INT, 0, "0", "0"),
        (INT, -5, "-5", "-5"),
        (DEC, "12345.5", "12,345.5", "12,345.5"),
        (MONEY, 123450, "¥1,234.50", "¥1,234.50"),
        (MONEY, -5, "-¥0.05", "-¥0.05"),
        (TEXT, HOSTILE, HOSTILE, HOSTILE),
        (MODE, "online", "线上", "Online"),
        (MODE, "removed_option", "removed_option", "removed_option"),
        (TARGETS, ["property", "power"], "物业、电力企业", "Property management, Power company"),
        (REGION, "shenyang", "沈阳", "Shenyang"),
        (INDUSTRY, "power", "电力企业", "Power company"),
        (DATE, "2026-12-01", "2026-12-01", "2026-12-01"),
        (CHANNELS, ["A公司", "B公司"], "A公司、B公司", "A公司, B公司"),
        (
            INDICATORS,
            [{"name": "下载", "value": 1200, "unit": "次"}, {"name": "注册", "value": 3}],
            "下载 1,200 次\n注册 3",
            "下载 1,200 次\n注册 3",
        ),
        (INT, None, "—", "—"),
        (TEXT, "", "—", "—"),
        (CHANNELS, [], "—", "—"),
    ],
)
def test_it_displays_stored_values(field, value, zh, en):
    assert display(field, value, ZH) == zh
    assert display(field, value, EN) == en


@pytest.mark.parametrize(
    ("field", "value"),
    [(INT, "abc"), (INT, [1, 2]), (MONEY, "300"), (MONEY, 1.5), (DEC, "x"), (INDICATORS, "a")],
)
def test_it_displays_a_value_stored_before_the_field_changed_type(field, value):
    assert display(field, value, ZH)


@pytest.mark.parametrize(
    ("field", "text"),
    [
        (INT, "12345"),
        (DEC, "99.5"),
        (MONEY, "¥49,999.99"),
        (MODE, "线上线下结合"),
        (TARGETS, "其他, 物业"),
        (REGION, "葫芦岛"),
        (INDUSTRY, "需求企业"),
        (DATE, "12月31日"),
        (CHANNELS, "甲, 乙"),
        (INDICATORS, "下载量 1,200 次\n注册量 300"),
    ],
)
@pytest.mark.parametrize("ctx", [ZH, EN])
def test_it_parses_what_it_displays_back_to_the_same_value(field, text, ctx):
    value = parse_answer(field, text, ctx)
    assert parse_answer(field, display(field, value, ctx), ctx) == value


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (INT, 12, Decimal(12)),
        (DEC, "12.5", Decimal("12.5")),
        (MONEY, 30050, Decimal(30050)),
        (CHANNELS, ["a", "b"], Decimal(2)),
        (INT, None, None),
        (INT, "NaN", None),
        (INT, "oops", None),
        (INT, True, None),
        (TEXT, "12", None),
    ],
)
def test_it_gives_kpis_a_number(field, value, expected):
    assert to_metric(field, value) == expected


# Snapshots


def test_it_snapshots_a_form_as_json():
    snapshot = fields_snapshot(DAILY)
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert list(snapshot) == [f.key for f in DAILY.fields]
    assert snapshot["plan"]["label"] == labels("下一个工作日计划", "Plan for the next working day")
    assert snapshot["downloads"]["type"] == "int"
    assert snapshot["downloads"]["metric"] is True


def _form(*fields: FieldSpec) -> FormSpec:
    return FormSpec(
        key="f", name=labels("表", "Form"), command="f", roles=("channel",), cadence="daily",
        fields=fields,
    )  # fmt: skip


def test_it_displays_a_removed_field_with_the_labels_it_was_filed_with():
    keyed = {"mode": MODE, "items": INDICATORS, "cost": MONEY}
    entries = fields_snapshot(_form(*(f.model_copy(update={"key": k}) for k, f in keyed.items())))
    # As read back from PostgreSQL's JSONB, which does not keep key order.
    stored = json.loads(json.dumps(entries, sort_keys=True))
    value = [{"unit": "次", "value": 1200, "name": "下载"}]
    assert display_from_snapshot(stored["items"], value, ZH) == "下载 1,200 次"
    assert display_from_snapshot(stored["mode"], "offline", EN) == "Offline"
    assert display_from_snapshot(stored["cost"], 30050, ZH) == "¥300.50"
    assert display_from_snapshot(stored["mode"], None, ZH) == "—"


@pytest.mark.parametrize("entry", [{}, {"type": "hologram"}, {"label": "x"}, {"fields": 3}, []])
def test_it_displays_whatever_a_broken_snapshot_holds(entry):
    assert display_from_snapshot(entry, ["a", 1], ZH) == "a、1"
    assert display_from_snapshot(entry, HOSTILE, ZH) == HOSTILE


# One-message reports

DAILY_ZH = """今天接触了哪些渠道？：万科物业、国网沈阳供电公司
新增入库渠道数：2
洽谈：3
今日签约数：１
交付： 0
天气：晴
渠道带来的下载量：1.2万
注册：很多
遇到的问题 / 需要的支持：
下一个工作日计划：
1. 拜访华润物业：谈合作
2. 跟进国网
"""

DAILY_EN = """Which channels did you contact today? Vanke Property; State Grid
New channels added to the library: 2
negotiation: 3
Contracts signed: 1
Deliveries: 0
Downloads driven: 12,000
REGISTRATIONS : 300
Problems: none
Plan:
- visit CR Property
- follow up State Grid
"""


def test_it_reads_a_whole_daily_report_in_chinese():
    shot = parse_message(DAILY, DAILY_ZH, ZH)
    assert shot.answers == {
        "contacted": ["万科物业", "国网沈阳供电公司"],
        "new_channels": 2,
        "negotiating": 3,
        "contracts_signed": 1,
        "deliveries": 0,
        "downloads": 12000,
        "plan": "1. 拜访华润物业：谈合作\n2. 跟进国网",
    }
    assert {k: e.reason for k, e in shot.errors.items()} == {
        "registrations": "not_a_number",
        "problems": "empty",  # optional: the flow takes it as skipped
    }
    assert shot.unknown_lines == ["天气：晴"]
    assert shot.duplicates == []


def test_it_reads_a_whole_daily_report_in_english():
    shot = parse_message(DAILY, DAILY_EN, EN)
    assert shot.answers == {
        "contacted": ["Vanke Property", "State Grid"],
        "new_channels": 2,
        "negotiating": 3,
        "contracts_signed": 1,
        "deliveries": 0,
        "downloads": 12000,
        "registrations": 300,
        "problems": "none",
        "plan": "- visit CR Property\n- follow up State Grid",
    }
    assert shot.errors == {}
    assert shot.unknown_lines == []


def test_it_keeps_the_last_of_a_field_given_twice():
    shot = parse_message(DAILY, "签约：1\n下载：abc\n签约：2\n下载：5", ZH)
    assert shot.answers == {"contracts_signed": 2, "downloads": 5}
    assert shot.errors == {}
    assert shot.duplicates == ["contracts_signed", "downloads"]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("new_channels: 4", "new_channels"),
        ("新增入库渠道数: 4", "new_channels"),
        ("【新增入库渠道数】：4", "new_channels"),
        ("1. 新增：4", "new_channels"),
        ("今日新增入库渠道数量：4", "new_channels"),
        ("NEW CHANNELS：4", "new_channels"),
        ("签约：4", "contracts_signed"),
        ("Contracts signed today?: 4", "contracts_signed"),
    ],
)
def test_it_matches_labels_tolerantly(text, field):
    assert parse_message(DAILY, text, ZH).answers == {field: 4}


@pytest.mark.parametrize("text", ["渠道：4", "今：4", "channels: 4", "4", "9:00 开会"])
def test_it_leaves_ambiguous_or_unlabelled_lines_unknown(text):
    shot = parse_message(DAILY, text, ZH)
    assert shot.answers == {} and shot.unknown_lines == [text]


def test_it_takes_an_answer_from_the_line_under_its_label():
    shot = parse_message(DAILY, "新增入库渠道数：\n\n3\n4\n签约:\n", ZH)
    assert shot.answers == {"new_channels": 3}
    assert shot.unknown_lines == ["4"]
    assert shot.errors["contracts_signed"].reason == "empty"


def test_it_lets_a_plan_hold_numbered_lines_and_colons():
    text = "计划：\n1. 下载：推广新版\n2. 9:30 拜访物业\n签约：1"
    shot = parse_message(DAILY, text, ZH)
    assert shot.answers == {"plan": "1. 下载：推广新版\n2. 9:30 拜访物业", "contracts_signed": 1}


def test_it_leaves_a_long_text_at_a_numbered_line_with_an_exact_label():
    shot = parse_message(DAILY, "7. 问题：无\n8. 下一个工作日计划：拜访物业", ZH)
    assert shot.answers == {"problems": "无", "plan": "拜访物业"}


def test_it_reads_the_weekly_report_too():
    weekly = REPORTS.form("weekly_feedback")
    text = "本周新注册用户：1,200\n留存：三百\n本周用户反馈总结：好评多\n建议加夜间模式"
    shot = parse_message(weekly, text, ZH)
    assert shot.answers == {
        "new_registrations": 1200,
        "retained_users": 300,
        "feedback_summary": "好评多\n建议加夜间模式",
    }


def test_it_survives_a_hostile_message():
    text = "\n".join(["计划：" + HOSTILE, "x" * 5000, "\x00：1", "：：：", "🙂🙂🙂"])
    shot = parse_message(DAILY, text, ZH)
    assert shot.errors["plan"].reason == "control_chars"
    assert parse_message(DAILY, "", ZH).answers == {}


# The error message


ERRORS = [
    FieldError("empty"),
    FieldError("not_a_number", kind="int"),
    FieldError("not_a_number", kind="decimal"),
    FieldError("not_a_number", kind="money"),
    FieldError("not_whole"),
    FieldError("too_many_decimals", decimals=2),
    FieldError("below_min", kind="int", min=HOSTILE),
    FieldError("above_max", kind="money", max=HOSTILE),
    FieldError("out_of_range", kind="decimal", min="0", max=HOSTILE),
    FieldError("too_long", max_length=10, length=5000),
    FieldError("multiline"),
    FieldError("control_chars"),
    FieldError("unknown_choice", options=HOSTILE),
    FieldError("unknown_region", options=HOSTILE),
    FieldError("unknown_industry", options=HOSTILE),
    FieldError("ambiguous", options=HOSTILE),
    FieldError("bad_date"),
    FieldError("too_many", max_items=3, count=4),
    FieldError("too_many", max_items=3),
    FieldError("bad_group_item", number=2, item=HOSTILE, expected=HOSTILE, part=HOSTILE),
    FieldError("something_new"),
]


@pytest.mark.parametrize("locale", ["zh", "en"])
@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.reason)
def test_it_explains_every_error_in_valid_escaped_html(error, locale):
    field = spec("int", label=labels(HOSTILE, HOSTILE))
    text = render("form_field_error.html.j2", locale, **error_context(field, error, locale))
    assert ESCAPED in text and HOSTILE not in text
    visible, _ = parse_html(text)
    assert len(visible.splitlines()) == 2 and visible.splitlines()[1].strip()


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.reason)
def test_it_explains_an_error_raised_without_its_details(error):
    text = render("form_field_error.html.j2", "en", reason=error.reason, label="")
    visible, _ = parse_html(text)
    assert visible.startswith("⚠️ ") and len(visible) > 20 and "\n" not in visible


def test_it_tells_the_range_to_type_in():
    error = FieldError("out_of_range", kind="int", min="0", max="100,000")
    text = render("form_field_error.html.j2", "en", **error_context(INT, error, "en"))
    assert text == "⚠️ <b>Count</b>\nPlease send a whole number between 0 and 100,000."


def test_it_lists_the_options_when_a_choice_is_unknown():
    with pytest.raises(FieldError) as caught:
        parse_answer(MODE, "maybe", EN)
    text = render("form_field_error.html.j2", "en", **error_context(MODE, caught.value, "en"))
    assert text.endswith("Please tap one of the buttons, or type one of: Online, Offline, Both.")
