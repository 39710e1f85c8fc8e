"""Deadlines typed as people write them, read on the team's zone and working calendar."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.calendar import WorkCalendar
from bot.services import deadlines
from bot.services.deadlines import DeadlineError

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
# Monday 7 December 2026, 10:00 in Shanghai.
MONDAY = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)

# (typed, the deadline understood as team-local "YYYY-MM-DD HH:MM")
READ = [
    ("明天", "2026-12-08 18:00"),
    ("后天", "2026-12-09 18:00"),
    ("周五下午5点", "2026-12-11 17:00"),
    ("周五 17:00", "2026-12-11 17:00"),
    ("星期五", "2026-12-11 18:00"),
    ("本周五", "2026-12-11 18:00"),
    ("下周一", "2026-12-14 18:00"),
    ("下周一上午10点", "2026-12-14 10:00"),
    ("下下周三", "2026-12-23 18:00"),
    ("12月10日", "2026-12-10 18:00"),
    ("12月10号 9点", "2026-12-10 09:00"),
    ("十二月十日", "2026-12-10 18:00"),
    ("12/10 17:00", "2026-12-10 17:00"),
    ("3天后", "2026-12-10 18:00"),
    ("三天后", "2026-12-10 18:00"),
    ("两天后", "2026-12-09 18:00"),
    ("今天下午3点", "2026-12-07 15:00"),
    ("明天下午5点半", "2026-12-08 17:30"),
    ("明天晚上8点", "2026-12-08 20:00"),
    ("中午12点", "2026-12-07 12:00"),
    ("tomorrow 5pm", "2026-12-08 17:00"),
    ("tomorrow", "2026-12-08 18:00"),
    ("friday 5pm", "2026-12-11 17:00"),
    ("in 3 days", "2026-12-10 18:00"),
    ("2026-12-10", "2026-12-10 18:00"),
    ("2026-12-10 9:30", "2026-12-10 09:30"),
    ("2026年12月10日", "2026-12-10 18:00"),
    ("1/5", "2027-01-05 18:00"),  # past this year: the next one
]


@pytest.mark.parametrize(("typed", "expected"), READ)
def test_it_reads_deadlines_as_people_write_them(typed, expected):
    found = deadlines.parse(typed, now=MONDAY, tz=SHANGHAI, cal=CAL)
    assert f"{found.at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" == expected
    assert found.at.tzinfo is not None


def test_it_reads_on_the_teams_zone_not_the_servers():
    # 23:30 UTC on Sunday is Monday 07:30 in Shanghai: "明天" is Tuesday there.
    late = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    found = deadlines.parse("明天", now=late, tz=SHANGHAI, cal=CAL)
    assert found.day == date(2026, 12, 8)
    in_london = deadlines.parse("明天", now=late, tz=ZoneInfo("Europe/London"), cal=CAL)
    assert in_london.day == date(2026, 12, 7)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "unreadable"),
        ("整理名单", "unreadable"),
        ("xyz", "unreadable"),
        ("昨天", "past"),
        ("今天上午8点", "past"),
        ("明天" * 30, "too_long"),
    ],
)
def test_what_is_no_deadline_is_refused(typed, reason):
    with pytest.raises(DeadlineError) as refused:
        deadlines.parse(typed, now=MONDAY, tz=SHANGHAI, cal=CAL)
    assert refused.value.reason == reason


def test_a_day_off_is_flagged_with_the_working_day_before():
    found = deadlines.parse("12月12日 17:00", now=MONDAY, tz=SHANGHAI, cal=CAL)
    assert found.day_off and found.day == date(2026, 12, 12)
    assert f"{found.instead.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" == "2026-12-11 17:00"
    assert deadlines.day_text(found.day, "zh") == "12月12日（周六）"


def test_a_statutory_holiday_is_a_day_off_and_a_makeup_saturday_is_not():
    monday = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)
    national_day = deadlines.parse("10月1日", now=monday, tz=SHANGHAI, cal=CAL)
    assert national_day.day_off
    assert national_day.instead.astimezone(SHANGHAI).date() == date(2026, 9, 30)
    makeup = deadlines.parse("10月10日", now=monday, tz=SHANGHAI, cal=CAL)  # 调休 Saturday
    assert not makeup.day_off


def test_a_day_off_whose_day_before_is_past_suggests_the_next_working_day():
    saturday = datetime(2026, 12, 12, 2, 0, tzinfo=UTC)
    found = deadlines.parse("明天", now=saturday, tz=SHANGHAI, cal=CAL)
    assert found.day_off
    assert found.instead.astimezone(SHANGHAI).date() == date(2026, 12, 14)


def test_the_card_shows_the_deadline_with_its_weekday():
    found = deadlines.parse("周五下午5点", now=MONDAY, tz=SHANGHAI, cal=CAL)
    assert deadlines.text_of(found.at, SHANGHAI, "zh") == "12月11日（周五）17:00"
