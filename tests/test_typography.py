"""Chinese typography stays right: every zh catalog entry, every template rendered in zh with
sample data, the shipped forms' and KPIs' Chinese names, and the words on buttons."""

import re
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_i18n import CONTEXTS, HOSTILE, NO_USER_INPUT

from bot.cli.i18n import load
from bot.render import render
from bot.simulator.html import parse_html

CJK = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
SAMPLE = "王伟"  # what a person's name or a typed answer looks like in Chinese
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]")
EMOJI = r"[\u2600-\u27bf\U0001f300-\U0001faff]"
RULES = {
    # ASCII punctuation touching Chinese: 姓名: / 你好,我 / 完成. / 好吗? (18:00 and 1,200 are
    # between digits or Latin letters, never next to a Chinese character).
    "half-width punctuation next to Chinese": re.compile(
        rf"{CJK}[ \t]*[:,;!?]|{CJK}\.(?!\d)|[:,;!?][ \t]*{CJK}"
    ),
    "ASCII brackets around Chinese": re.compile(rf"\([^()\n]*{CJK}[^()\n]*\)"),
    "a space before Chinese punctuation": re.compile(r"\S[ \t]+[，。：；！？、）]"),
    "a space after Chinese punctuation": re.compile(r"[，。：；！？、（][ \t]+\S"),
    "a space around full-width brackets": re.compile(rf"{CJK}[ \t]+（|）[ \t]+{CJK}"),
    "a doubled emoji": re.compile(rf"({EMOJI})\ufe0f?\s*\1"),
    "他/她 instead of 对方 or the name": re.compile(r"他\s*[/／、或]\s*她|他\s*[（(]\s*她"),
}


def violations(text: str) -> list[str]:
    """The rules `text` breaks, each with the place it breaks it."""
    found = []
    for rule, pattern in RULES.items():
        for match in pattern.finditer(text):
            start = max(match.start() - 12, 0)
            found.append(f"{rule}: …{text[start : match.end() + 12]}…")
    return found


def _zh_entries() -> list[tuple[str, str]]:
    entries = []
    for message in load("zh"):
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple | list) else [message.string]
        msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
        entries += [(msgid, form) for form in forms if form]
    return entries


@pytest.mark.parametrize("msgid, text", _zh_entries(), ids=lambda v: str(v)[:40])
def test_every_zh_catalog_entry_follows_chinese_typography(msgid, text):
    # A placeholder stands for a name or a number: give it a Chinese name's shape, so "%(a)s: %(b)s"
    # is caught the way the rendered "王伟: 3" would be.
    assert violations(PLACEHOLDER.sub(SAMPLE, text)) == []


def _sampled(value: Any) -> Any:
    """The hostile test context with Chinese sample text where a person's input goes."""
    if isinstance(value, str):
        return value.replace(HOSTILE, SAMPLE)
    if isinstance(value, dict):
        return {k: _sampled(v) for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [*map(_sampled, value), "李娜"]  # two items, so a list shows its separator
    if isinstance(value, list | tuple):
        return type(value)(_sampled(v) for v in value)
    if isinstance(value, SimpleNamespace):  # a Telegram username is Latin letters, never Chinese
        fields = {k: "wangwei" if k == "username" else _sampled(v) for k, v in vars(value).items()}
        return SimpleNamespace(**fields)
    return value


GENERIC = dict(
    reason="unknown", bad=True, commands=[("help", "帮助")], directors=True, roles=["director"],
    dropped=True, gone=True, form_name="渠道拓展日报", period="2026-12", budget=None,
    reserved="¥0.00", used="¥0.00", left=None, waiting="¥0.00", changed=True, leaves=[],
)  # fmt: skip


@pytest.mark.parametrize("name", sorted(set(CONTEXTS) | NO_USER_INPUT))
def test_every_template_rendered_in_zh_follows_chinese_typography(name):
    context = _sampled(CONTEXTS[name]) if name in CONTEXTS else GENERIC
    visible, _ = parse_html(render(name, "zh", **context))
    assert violations(visible) == []


def _zh_names(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["zh"]] if isinstance(value.get("zh"), str) else []
        return own + [n for v in value.values() for n in _zh_names(v)]
    if isinstance(value, list):
        return [n for v in value for n in _zh_names(v)]
    return []


@pytest.mark.parametrize("path", ["bot/forms/defaults.toml", "bot/kpis/defaults.toml"])
def test_the_shipped_forms_and_kpis_are_named_in_good_chinese(path):
    data = tomllib.loads((Path(__file__).parents[1] / path).read_text(encoding="utf-8"))
    names = _zh_names(data)
    assert len(names) > 5
    assert [(n, v) for n in names for v in violations(n)] == []


def test_the_rules_catch_what_they_are_for():
    for bad in ("姓名: 王伟", "你好,我", "已完成.", "好吗?", "（选填） 请", "请输入整数。 (0–9)",
                "⚠️ ⚠️ 注意", "他/她不会收到", "已选 ：王伟", "预算 （元）"):  # fmt: skip
        assert violations(bad), bad
    for good in ("截止 18:00", "共 1,200 次", "/channel set 1", "2026-11-27 周五", "ID：2",
                 "https://t.me/x", "（2 位用户）", "(0–1,000)", "提醒（今天）"):  # fmt: skip
        assert violations(good) == [], good


def test_feedback_card_buttons_say_what_they_do():
    from handlers.feedback import _card_buttons

    me = SimpleNamespace(locale="zh")
    item = SimpleNamespace(id=1, category="bug", segment=None, severity="medium", count=3,
                           text="短")  # fmt: skip
    labels = [label for row in _card_buttons(me, item, None) for label, _ in row]
    assert labels and all(re.search(rf"{CJK}|[A-Za-z]", label) for label in labels), labels
