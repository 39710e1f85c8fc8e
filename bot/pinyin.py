"""Pinyin of Chinese text for the channel search and the sentence reader, in ~12 MB, not ~55 MB.

pypinyin's phrase dictionary (47,000 words, ~43 MB once loaded) only matters where a word is
read differently from its characters' usual readings (重庆 is chóng qìng, not zhòng qìng). Those
~3,400 words, compared without tones, are in `pinyin_phrases.txt`; pypinyin is imported without
its phrase dictionary and given that table instead. Regenerate it after upgrading pypinyin with
`python -m bot.pinyin` (it needs a process where pypinyin was not imported yet).
"""

import os
import unicodedata
from functools import cache
from pathlib import Path

PHRASES = Path(__file__).with_name("pinyin_phrases.txt")
_LEAN = {"PYPINYIN_NO_PHRASES": "1", "PYPINYIN_NO_DICT_COPY": "1"}


@cache
def _pypinyin():
    # pypinyin reads these once, when its constants module is imported.
    added = [name for name in _LEAN if name not in os.environ]
    os.environ.update({name: _LEAN[name] for name in added})
    try:
        import pypinyin
    finally:
        for name in added:
            del os.environ[name]
    words = {}
    for line in PHRASES.read_text(encoding="utf-8").splitlines():
        word, *readings = line.split()
        words[word] = [[reading] for reading in readings]
    pypinyin.load_phrases_dict(words)
    return pypinyin


def syllables(text: str) -> list[str]:
    """Toneless pinyin, one item per character (other runs kept whole): 万科 -> ["wan", "ke"]."""
    return _pypinyin().lazy_pinyin(text)


def initials(text: str) -> str:
    """First letters of each syllable: 重庆银行 -> "cqyh"."""
    py = _pypinyin()
    return "".join(s[0] for s in py.lazy_pinyin(text, style=py.Style.FIRST_LETTER) if s)


def _toneless(reading: str) -> str:
    marks = unicodedata.normalize("NFD", reading).replace("u\u0308", "v")  # lǜ -> lv, lù -> lu
    return "".join(c for c in marks if not unicodedata.combining(c))


def _write_table() -> int:
    """Write the words whose toneless reading differs from their characters' first readings."""
    os.environ.pop("PYPINYIN_NO_PHRASES", None)
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    differ = set()
    for word, readings in phrases_dict.items():
        usual = [pinyin_dict.get(ord(ch), "").split(",")[0] for ch in word]
        if [_toneless(r) for r in usual] != [_toneless(r[0]) for r in readings]:
            differ.add(word)
    # A word read as usual that contains one of those keeps the segmentation it had: without it,
    # 一朝天子一朝臣 would be cut at 一朝 (yī zhāo) instead of read as one word (yī cháo …).
    kept = {w for w in phrases_dict if w in differ or _contains(w, differ)}
    lines = [" ".join([w, *(r[0] for r in phrases_dict[w])]) for w in sorted(kept)]
    PHRASES.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def _contains(word: str, words: set[str]) -> bool:
    n = len(word)
    return any(word[i:j] in words for i in range(n) for j in range(i + 2, n + 1) if j - i < n)


if __name__ == "__main__":
    print(f"{_write_table()} words written to {PHRASES}")
