"""A whole report typed as one message: "label: value" lines matched to the form's fields."""

import re
from dataclasses import dataclass, field
from typing import Any

from bot.forms.fields import FieldContext, FieldError, parse_answer, resolve
from bot.forms.spec import FieldSpec, FormSpec

# Types whose answer may go on over the following lines (a plan; one channel or item per line).
MULTILINE_TYPES = ("longtext", "channels", "group", "multichoice")
_LABEL_LINE = re.compile(r"(?P<label>[^:：]{1,80}?)\s*[:：]\s*(?P<value>.*)")
# "今天接触了哪些渠道？万科物业": a question mark may stand for the colon, after an exact label.
_QUESTION_LINE = re.compile(r"(?P<label>[^?？]{1,80}?[?？])\s*(?P<value>.*)")
_MARKER = re.compile(r"\s*(?:\d{1,2}[.)、）]|[-*•·])\s*")  # "1. ", "2、", "- " before a line


@dataclass
class OneShot:
    """What one message said. A field given twice keeps its last value (and is listed in
    `duplicates`); a field whose label line has no value gets the "empty" error, which the flow
    treats as "skipped" for an optional field. Fields never mentioned are in neither dict."""

    answers: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, FieldError] = field(default_factory=dict)
    unknown_lines: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


def parse_message(form: FormSpec, text: str, ctx: FieldContext) -> OneShot:
    """Parse the text after /daily: "label: value" lines (zh or en label, or the field key; a
    tolerant match, see `label_of`). Long text, channels and group items may go on over the
    following lines until the next line that starts with a field's label and a colon; any
    other answer may stand on the line under its label."""
    shot = OneShot()
    for key, lines in _chunks(form, text, shot).items():
        _parse_into(shot, form.field(key), "\n".join(lines), ctx)
    return shot


def _chunks(form: FormSpec, text: str, shot: OneShot) -> dict[str, list[str]]:
    """The lines of each field (the last mention wins); notes unknown lines and duplicates."""
    chunks: dict[str, list[str]] = {}
    current: FieldSpec | None = None
    for line in re.sub(r"\r\n?", "\n", text).split("\n"):
        if found := label_of(form, line, continuing=current):
            current, value = found
            if current.key in chunks and current.key not in shot.duplicates:
                shot.duplicates.append(current.key)
            chunks[current.key] = [value]
        elif current is not None and _goes_on(current, chunks[current.key]):
            chunks[current.key].append(line)
        elif line.strip():
            shot.unknown_lines.append(line.strip())
    return chunks


def _goes_on(current: FieldSpec, lines: list[str]) -> bool:
    # A one-line answer may still come on the line under its label ("新增入库渠道数：⏎3").
    return current.type in MULTILINE_TYPES or not "".join(lines).strip()


def label_of(
    form: FormSpec, line: str, continuing: FieldSpec | None = None
) -> tuple[FieldSpec, str] | None:
    """The field a "label: value" line starts, and its value. A label matches a field's key or
    either label exactly (ignoring case, width, spaces and punctuation such as a trailing ？), or
    else when it is unambiguous: the start of one label, a part of it (2+ characters), or a
    label plus more ("今日签约数量"). Inside a multi-line answer a numbered line ("2. 拜访：…")
    goes on with that answer unless its label is exact."""
    marker = _MARKER.match(line)
    bare = line[marker.end() if marker else 0 :].strip()
    inside = continuing is not None and continuing.type in MULTILINE_TYPES
    names = {f.key: (f.key, f.label.zh, f.label.en, *f.aliases) for f in form.fields}
    for pattern, loose in ((_LABEL_LINE, not (marker and inside)), (_QUESTION_LINE, False)):
        match = pattern.fullmatch(bare)
        keys = resolve(match["label"], names, loose=loose) if match else []
        if len(keys) == 1:
            return form.field(keys[0]), match["value"]
    return None


def _parse_into(shot: OneShot, spec: FieldSpec | None, text: str, ctx: FieldContext) -> None:
    if spec is None:
        return
    try:
        shot.answers[spec.key] = parse_answer(spec, text, ctx)
    except FieldError as error:
        shot.errors[spec.key] = error
