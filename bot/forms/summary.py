"""A report's answers as (label, text) rows, their "whole text" buttons, and period labels."""

from typing import Any

from bot.buttons import ID, KEY, Action
from bot.calendar import Period
from bot.forms import fields as field_types
from bot.forms.fields import FieldContext
from bot.forms.spec import FieldSpec, FormSpec
from bot.i18n import t
from bot.render import clip
from bot.services import periods, prefill

# A card shows one answer per line, this many characters of it (the `clip` filter of
# bot/render.py); a longer answer gets a "whole text" button (handlers/fulltext.py).
CARD_CLIP = 60
# One answer in full: of a d(raft), a r(eport) or an activity p(lan); handlers/fulltext.py.
# q (a request approved in steps) was added later: older data still reads the same.
FULL_TEXT = Action("tx", "{kind}:{id}:{key}", kind="[drpq]", id=ID, key=KEY)


def answer_text(spec: FieldSpec, value: Any, ctx: FieldContext) -> str:
    """A stored answer as plain text (templates escape it)."""
    if spec.type == "channels":
        return "、".join(item["name"] for item in value or []) or "—"
    generated = prefill.generated_text(value, ctx)  # the bot's own words: the reader's language
    if generated is not None:
        return generated
    return field_types.display(spec, value, ctx)


def answer_rows(
    form: FormSpec, answers: dict[str, Any], ctx: FieldContext
) -> list[tuple[str, str]]:
    """(label, text) for every field of `form`, in form order."""
    return [(label, text) for _, label, text in answer_items(form, answers, ctx)]


def answer_items(
    form: FormSpec, answers: dict[str, Any], ctx: FieldContext
) -> list[tuple[str, str, str]]:
    """(key, label, text) for every field of `form`, in form order."""
    return [
        (f.key, f.label.get(ctx.locale), answer_text(f, answers.get(f.key), ctx))
        for f in form.fields
    ]


def snapshot_items(
    fields: dict[str, Any], answers: dict[str, Any], ctx: FieldContext
) -> list[tuple[str, str, str]]:
    """(key, label, text) of a filed report or plan, with the labels it was filed with."""
    entries = sorted(fields.items(), key=lambda kv: kv[1].get("position", 0))
    return [(key, _snapshot_label(entry, ctx.locale), _snapshot_text(entry, answers.get(key), ctx))
            for key, entry in entries]  # fmt: skip


def _snapshot_label(entry: dict[str, Any], locale: str) -> str:
    labels = entry.get("label") or {}
    return str(labels.get(locale) or labels.get("zh") or labels.get("en") or "?")


def _snapshot_text(entry: dict[str, Any], value: Any, ctx: FieldContext) -> str:
    if entry.get("type") == "channels" and isinstance(value, list):
        names = [item.get("name", "") if isinstance(item, dict) else str(item) for item in value]
        return "、".join(names) or "—"
    generated = prefill.generated_text(value, ctx)
    if generated is not None:
        return generated
    return field_types.display_from_snapshot(entry, value, ctx)


def clipped_on_card(text: str) -> bool:
    """True when a card shows only the start of this answer (the `clip` filter's cut)."""
    return len(" ".join(text.split())) > CARD_CLIP


def full_text_buttons(
    kind: str, object_id: int, items: list[tuple[str, str, str]], locale: str
) -> list[list[tuple[str, str]]]:
    """A "whole text" button for every answer the card clips, two to a row. `kind` is d (a
    draft), r (a report), p (an activity plan) or q (an approval request)."""
    buttons = [
        (
            t(locale, "📄 %(label)s in full", label=clip(label, 30)),
            FULL_TEXT.pack(kind, object_id, k),
        )
        for k, label, text in items
        if clipped_on_card(text)
    ]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def period_label(period_key: str, locale: str) -> str:
    """A period key as a person reads it: 2026年11月26日（周四）, 第48周（11月23日–29日）."""
    try:
        return periods.label(Period.parse(period_key), locale)
    except ValueError:  # not a calendar period (an ad-hoc form's key): shown as it is
        return period_key
