"""The sentence reader's rules, one by one (the corpus in tests/corpus measures them together)."""

from datetime import date
from decimal import Decimal

from bot.forms.reader import Known, read
from bot.forms.spec import default_reports

REPORTS = default_reports()
DAILY = REPORTS.form("daily_channel")
FRIDAY = date(2026, 12, 4)
LIBRARY = [Known(1, "华润物业"), Known(2, "万科物业"), Known(3, "万达物业"), Known(4, "碧桂园服务")]


def values(text: str, form=DAILY, **kw) -> dict:
    return read(form, text, today=FRIDAY, known=LIBRARY, **kw).values()


def test_it_reads_numbers_in_every_form_people_write_them():
    assert values("下载一百二，注册1.2万，培训两个，新增三家") == {
        "downloads": Decimal(120),
        "registrations": Decimal(12000),
        "users_trained": Decimal(2),
        "new_channels": Decimal(3),
    }


def test_it_fills_nothing_on_a_guess():
    reading = read(DAILY, "下载100多，签约三四家，注册十几个", today=FRIDAY)
    assert reading.values() == {}
    assert len(reading.vague) == 3


def test_it_reads_none_as_zero():
    assert values("没有签约，注册也没有，no go-lives") == {
        "contracts_signed": Decimal(0),
        "registrations": Decimal(0),
        "deliveries": Decimal(0),
    }


def test_it_names_a_channel_by_its_short_name_initials_or_a_homophone_but_not_a_lookalike():
    assert values("华润签了")["contacted"] == ("华润物业",)
    assert values("wk签了")["contacted"] == ("万科物业",)
    assert values("万可签了")["contacted"] == ("万科物业",)  # the pinyin keyboard's slip
    assert values("碧桂圆服务签了")["contacted"] == ("碧桂园服务",)
    assert values("万达签了")["contacted"] == ("万达物业",)  # not 万科: one character off


def test_it_offers_a_new_name_and_counts_the_channels_signed():
    reading = read(DAILY, "今天新开发了融创物业，签了", today=FRIDAY, known=LIBRARY)
    assert [(h.name, h.channel) for h in reading.channels] == [("融创物业", None)]
    assert reading.values()["contracts_signed"] == Decimal(1)


def test_it_keeps_the_last_of_two_different_values_and_says_so():
    reading = read(DAILY, "下载120，下载150，注册35，注册35", today=FRIDAY)
    assert reading.values() == {"downloads": Decimal(150), "registrations": Decimal(35)}
    assert [f.value for f in reading.conflicts["downloads"]] == [Decimal(120), Decimal(150)]
    assert reading.repeated == ["registrations"]


def test_it_puts_the_words_after_a_cue_into_text_fields():
    assert values("问题：物业不配合。明天去万科，下载5") == {
        "problems": "物业不配合",
        "plan": "明天去万科",
        "downloads": Decimal(5),
    }


def test_a_persons_own_word_is_read_as_the_field():
    assert values("拉新20") == {}
    assert values("拉新20", personal={"拉新": "registrations"}) == {"registrations": Decimal(20)}


def test_dates_are_read_against_the_teams_week():
    expense = REPORTS.form("expense")
    assert values("周五打车86元", form=expense)["spent_on"] == FRIDAY
    assert values("上周五打车86元", form=expense)["spent_on"] == date(2026, 11, 27)
    assert values("12月1日打车86元", form=expense)["spent_on"] == date(2026, 12, 1)
    assert values("昨天打车86元", form=expense) == {
        "spent_on": date(2026, 12, 3),
        "amount": Decimal(86),
    }


def test_the_period_a_report_names_is_read_at_its_start():
    assert read(DAILY, "昨天的日报：下载5", today=FRIDAY).period_day == date(2026, 12, 3)
    assert read(DAILY, "下载5，昨天的日报", today=FRIDAY).period_day is None
