"""Button data: packed within Telegram's 64 bytes, read back exactly, anything else refused."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.buttons import ID, KEY, MAX_BYTES, REST, Action, TooLong

SHOW = Action("staff", "show:{person}", person=ID)
CHOICE = Action("f", "{draft}:{version}:c:{key}", draft=ID, version=ID, key=REST)
ADD = Action("ch", "add")
BACK = Action("fb", "{item}:b:", item=ID)

words = st.text(st.characters(blacklist_categories=["Cs"]), max_size=70)


def test_it_packs_the_shapes_already_sent_to_people():
    assert BACK.pack(12) == "fb:v1:12:b:"
    assert SHOW.pack(42) == "staff:v1:show:42"
    assert CHOICE.pack(7, 3, "a:b") == "f:v1:7:3:c:a:b"
    assert ADD.pack() == "ch:v1:add"


def test_it_reads_its_own_data_back():
    assert SHOW.unpack("staff:v1:show:42") == ("42",)
    assert CHOICE.unpack("f:v1:7:3:c:a:b") == ("7", "3", "a:b")
    assert ADD.unpack("ch:v1:add") == ()
    assert BACK.unpack("fb:v1:12:b:") == ("12",)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "staff:v1:show:",
        "staff:v1:show:x",
        "staff:v1:show:²",  # isdigit() says yes, int() says no
        "staff:v1:show:" + "9" * 19,  # beyond BIGINT
        "staff:v1:show:42:1",
        "staff:v1:show:42\n",  # `$` would match before the newline
        "staff:v2:show:42",
        "staffx:v1:show:42",
        "staff:v1:list:0",
    ],
)
def test_it_refuses_data_of_any_other_shape(data):
    assert SHOW.unpack(data) is None
    assert not re.match(SHOW.pattern, data or "")  # what CallbackQueryHandler does


def test_it_raises_rather_than_send_a_button_telegram_refuses():
    with pytest.raises(TooLong):
        CHOICE.pack(1, 1, "键" * 20)  # 60 bytes of UTF-8 in 20 characters
    assert CHOICE.pack_if_fits(1, 1, "键" * 20) is None
    assert CHOICE.pack_if_fits(1, 1, "键") == "f:v1:1:1:c:键"


def test_it_raises_for_values_that_would_read_back_otherwise():
    with pytest.raises(ValueError):
        SHOW.pack("x")
    with pytest.raises(ValueError):
        Action("x", "{a}:{b}", a=REST, b=REST).pack("1", "2:3")  # reads back as ("1:2", "3")


def test_an_action_names_every_slot_of_its_template():
    with pytest.raises(ValueError):
        Action("x", "{a}:{b}", a=ID)
    with pytest.raises(ValueError):
        Action("x", "{a}", a=ID, b=ID)


def test_the_pattern_is_what_the_handler_is_registered_with():
    assert re.match(SHOW.pattern, "staff:v1:show:42")
    assert re.match(ADD.pattern, "ch:v1:add")
    assert not re.match(ADD.pattern, "ch:v1:addx")


@given(draft=st.integers(0, 10**18 - 1), version=st.integers(0, 10**6), key=words)
def test_an_action_fits_and_reads_back_or_raises(draft, version, key):
    try:
        data = CHOICE.pack(draft, version, key)
    except TooLong:
        assert len(f"f:v1:{draft}:{version}:c:{key}".encode()) > MAX_BYTES
        return
    assert len(data.encode()) <= MAX_BYTES
    assert CHOICE.unpack(data) == (str(draft), str(version), key)


@given(value=words)
def test_a_slot_takes_only_what_its_regex_allows(value):
    try:
        data = Action("x", "{key}:{n}", key=KEY, n=ID).pack(value, 1)
    except ValueError:  # never TooLong: a key has at most 32 characters
        assert not re.fullmatch(KEY, value)
        return
    assert re.fullmatch(KEY, value) and data == f"x:v1:{value}:1"
