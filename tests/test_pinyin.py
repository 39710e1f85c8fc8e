"""Pinyin for the channel search and the reader: words read as words, without pypinyin's 43 MB
phrase dictionary."""

import subprocess
import sys

from bot import pinyin


def test_a_word_is_read_as_a_word_not_character_by_character():
    assert pinyin.initials("重庆银行") == "cqyh"  # not zqyx, the characters' first readings
    assert pinyin.syllables("长城物业") == ["chang", "cheng", "wu", "ye"]
    assert pinyin.syllables("一朝天子一朝臣")[1] == "chao"  # the longer word wins, as before


def test_the_phrase_dictionary_is_not_loaded():
    code = (
        "import sys; from bot import pinyin; pinyin.initials('重庆'); "
        "print('pypinyin.phrases_dict' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
