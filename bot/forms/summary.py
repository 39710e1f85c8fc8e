"""A report's answers as (label, text) rows and period labels, for cards and announcements."""

from typing import Any

from bot.calendar import Period
from bot.forms import fields as field_types
from bot.forms.fields import FieldContext
from bot.forms.spec import FieldSpec, FormSpec
from bot.i18n import N_, t
from bot.services import feedback

WEEKDAY_NAMES = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


def answer_text(spec: FieldSpec, value: Any, ctx: FieldContext) -> str:
    """A stored answer as plain text (templates escape it)."""
    if spec.type == "channels":
        return "、".join(item["name"] for item in value or []) or "—"
    if feedback.is_week_value(value):  # the bot's own words: in the reader's language
        return feedback.week_text(value, ctx.locale)
    return field_types.display(spec, value, ctx)


def answer_rows(
    form: FormSpec, answers: dict[str, Any], ctx: FieldContext
) -> list[tuple[str, str]]:
    """(label, text) for every field of `form`, in form order."""
    return [(f.label.get(ctx.locale), answer_text(f, answers.get(f.key), ctx)) for f in form.fields]


def period_label(period_key: str, locale: str) -> str:
    """ "2026-11-26 周四" / "2026-W48 (11-23 – 11-29)"."""
    period = Period.parse(period_key)
    if period.kind == "day":
        return f"{period.start.isoformat()} {t(locale, WEEKDAY_NAMES[period.start.weekday()])}"
    return f"{period.key} ({period.start:%m-%d} – {period.end:%m-%d})"
