"""The sentence reader against hostile input: whatever is typed, it returns a reading whose
values come from the text, in finite time, and never raises (bot/forms/reader)."""

import time
from datetime import date
from decimal import Decimal

from fuzz_support import REPORTS, SEPARATORS, fuzz_settings, piece
from hypothesis import given
from hypothesis import strategies as st

from bot.forms.reader import Known, read

TODAY = date(2026, 12, 4)
LIBRARY = [Known(1, "华润物业"), Known(2, "万科物业"), Known(3, "碧桂园服务"), Known(4, "x"),
           Known(5, "<b>&"), Known(6, "物业"), Known(7, "万" * 128)]  # fmt: skip
CUES = ["下载", "注册", "签约", "签了", "没有", "明天", "问题：", "在谈", "上线", "downloads",
        "signed", "no", "昨天的日报：", "百分之", "%", "万", "家", "个", "跑了"]  # fmt: skip
sentence = st.lists(
    st.one_of(piece, st.sampled_from(CUES), st.sampled_from(SEPARATORS)), min_size=1, max_size=40
).map("".join)


def _check(form_key: str, text: str) -> None:
    form = REPORTS.form(form_key)
    reading = read(form, text, today=TODAY, known=LIBRARY, personal={"拉新": "registrations"})
    for found in reading.found.values():
        assert form.field(found.field) is not None
        for start, end in found.spans:
            assert 0 <= start < end <= len(text)
        if isinstance(found.value, Decimal):
            assert found.value.is_finite()
        if isinstance(found.value, str) and form.field(found.field).type in ("text", "longtext"):
            assert found.value.replace("；", "") in text.replace("；", "") or "；" in found.value


@fuzz_settings(300)
@given(sentence, st.sampled_from([f.key for f in REPORTS.forms]))
def test_it_reads_anything_into_fields_of_the_form_without_raising(text, form_key):
    _check(form_key, text)


def test_it_reads_a_long_hostile_message_quickly():
    texts = [
        "下载" + "9" * 4000,
        "下载1注册2" * 400,
        "万" * 4000,
        "一二三四五六七八九十百千万亿" * 300,
        "华润万科碧桂园" * 500,
        "明天，" * 1300,
        "1." * 2000,
        "12月1日" * 600,
        "没有没有签约" * 600,
        "\u202e下载\u200f120\x00注册" * 300,
    ]
    for text in texts:
        started = time.perf_counter()
        _check("daily_channel", text[:4096])
        assert time.perf_counter() - started < 2.0, text[:20]


def test_it_takes_no_run_of_digits_for_a_number():
    reading = read(REPORTS.form("daily_channel"), "下载" + "9" * 200 + "，注册35", today=TODAY)
    assert reading.values() == {"registrations": Decimal(35)}


def test_it_takes_no_channel_from_names_in_the_library_that_are_only_markup():
    reading = read(REPORTS.form("daily_channel"), "<b>& 下载 5", today=TODAY, known=LIBRARY)
    assert "contacted" not in reading.found or reading.found["contacted"].value == ("<b>&",)
