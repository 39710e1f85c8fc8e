"""How a filing step looks: its text (from templates) and its buttons (Telegram-free data)."""

import html
import re
from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from bot.buttons import ID, REST, Action
from bot.calendar import Period
from bot.forms import fields as field_types
from bot.forms.flow import FlowContext, Step, StepKind
from bot.forms.spec import FILE_TYPES, FieldSpec
from bot.forms.summary import (
    answer_items,
    answer_rows,
    answer_text,
    full_text_buttons,
    period_label,
)
from bot.i18n import t
from bot.outbox import Buttons
from bot.render import TELEGRAM_TEXT_LIMIT, render
from bot.services.filing import DraftFor, subject
from handlers import sentence_view
from handlers.reply import rows_of

# A press on the current card of one's own draft: bot/forms/flow.py's action (c a choice, t a
# toggle, ok submit, …) and its argument; the draft's version makes an older card's press stale.
FORM = Action("f", "{draft}:{version}:{action}:{arg}", draft=ID, version=ID, action="[a-z]{1,2}",
              arg=REST)  # fmt: skip
# When nothing is due: file for today anyway, or edit a report still open for editing.
START_ANYWAY = Action("fs", "{form}:n", form=r"\w+")
EDIT_PAST = Action("fs", "{form}:e:{period}", form=r"\w+", period=r"[\w-]+")

# Telegram takes 4,096 characters a message, and two long answers (a weekly summary's 3,000 and
# 2,000) already pass that: answers are clipped on the card, harder and harder until it fits.
# The draft and the report keep every word.
CLIPS = (None, 1000, 400, 150, 60, 20)
UNKNOWN_LINE_MAX = 100  # an ignored line of a one-message report is quoted back this long


def render_step(step: Step, ctx: FlowContext) -> str:
    """The message text of a step, in the filer's language."""
    loc = ctx.staff.locale
    common: dict[str, Any] = {
        "form_name": step.form.name.get(loc),
        "notes": [n for n in step.notes if ":" not in n],
        "unknown_lines": [
            _clip(n.split(":", 1)[1], UNKNOWN_LINE_MAX)
            for n in step.notes
            if n.startswith("unknown_line:")
        ],
        "error": _error_text(step, ctx),
        "period_closed": sentence_view.period_closed(step, ctx),
    }
    if step.draft is not None:
        common["period"] = _period_or_plan(step.draft.period_key, loc)
    if step.kind == StepKind.ASK:
        question = _question(step, ctx)

        def clipped(clip: int | None) -> dict[str, Any]:
            selected = [_clip(item, clip) for item in question["selected"]]
            return question | {"current": _clip(question["current"], clip), "selected": selected}

        return _fitted(lambda clip: render("form_question.html.j2", loc, **common, **clipped(clip)))
    if step.kind in (StepKind.REVIEW, StepKind.PICK):
        items = answer_items(step.form, step.draft.answers, ctx.fields)
        sources = sentence_view.sources(step, ctx)  # a sentence's words beside each value
        return _fitted(
            lambda clip: render(
                "form_review.html.j2",
                loc,
                **common,
                rows=[(label, _clip(value, clip), sources.get(key)) for key, label, value in items],
                picking=step.kind == StepKind.PICK,
                editing=step.draft.report_id is not None,
                reading=sentence_view.reading(step, ctx),
            )
        )
    if step.kind == StepKind.RESULTS_FILED:
        return render("form_results_filed.html.j2", loc, **common, plan=step.plan)
    if step.kind == StepKind.PLAN_SUBMITTED:
        return render("form_plan_submitted.html.j2", loc, **common, plan=step.plan)
    if step.kind == StepKind.FILED:
        report = step.report
        rows = answer_rows(step.form, report.answers, ctx.fields)
        return _fitted(
            lambda clip: render(
                "form_filed.html.j2",
                loc,
                **common,
                report=report,
                adhoc=step.form.cadence == "adhoc",  # owed by nobody: never on time or late
                period=period_label(report.period_key, loc),
                rows=[(label, _clip(value, clip)) for label, value in rows],
            )
        )
    return render(f"form_{step.kind}.html.j2", loc, **common)


def _fitted(render_with: Callable[[int | None], str]) -> str:
    """The text rendered with answers clipped ever harder, until Telegram takes it."""
    text = ""
    for clip in CLIPS:
        text = render_with(clip)
        if _visible_units(text) <= TELEGRAM_TEXT_LIMIT:
            break
    return text


def _visible_units(text: str) -> int:
    # What Telegram counts: the text without its tags, entities unescaped, in UTF-16 units
    # (user input is escaped, so every "<" left in the HTML starts one of our tags).
    plain = html.unescape(re.sub(r"<[^>]*>", "", text))
    return len(plain.encode("utf-16-le")) // 2


def _clip(value: str, limit: int | None) -> str:
    return value if limit is None or len(value) <= limit else value[: limit - 1] + "…"


def _period_or_plan(period_key: str, locale: str) -> str:
    about = subject(period_key)
    if about.kind == DraftFor.NEW_PLAN:
        return t(locale, "new plan")
    if about.kind == DraftFor.RESULTS:
        return t(locale, "results of plan #%(id)s", id=about.plan_id)
    if about.kind == DraftFor.PLAN:
        return t(locale, "plan #%(id)s", id=about.plan_id)
    if about.kind == DraftFor.NEW_REQUEST:
        return t(locale, "new request")
    if about.kind == DraftFor.REQUEST:
        return t(locale, "request #%(id)s", id=about.plan_id)
    return period_label(period_key, locale)


def _error_text(step: Step, ctx: FlowContext) -> Markup | None:
    if step.error is None:
        return None
    label = step.field.label.get(ctx.staff.locale) if step.field else ""
    params = {k: v for k, v in step.error.params.items() if k not in ("reason", "label")}
    # Rendered by its own template (already escaped), so it is marked safe for the next one.
    return Markup(
        render(
            "form_field_error.html.j2",
            ctx.staff.locale,
            reason=step.error.reason,
            label=label,
            **params,
        )
    )


def _question(step: Step, ctx: FlowContext) -> dict[str, Any]:
    spec: FieldSpec = step.field
    loc = ctx.staff.locale
    value = step.draft.answers.get(spec.key)
    return {
        "index": int(step.draft.cursor) + 1,
        "total": len(step.form.fields),
        "label": spec.label.get(loc),
        "help": spec.help.get(loc) if spec.help else "",
        "kind": spec.type,
        "required": spec.required,
        "current": show_value(spec, value, ctx) if value not in (None, "", []) else "",
        "suggestion": step.suggestion,
        "selected": [_item_label(spec, item, ctx) for item in step.selected],
        "new_channel": step.new_channel,
        "new_channel_region": _region_label(step.new_channel, ctx),
        "limits": {"min": _num(spec.min), "max": _num(spec.max), "max_length": spec.max_length},
        **(field_types.file_question(spec, step.selected, ctx.fields) if spec.type in FILE_TYPES
           else {}),
    }  # fmt: skip


def _region_label(new: dict[str, Any] | None, ctx: FlowContext) -> str:
    key = (new or {}).get("region")
    region = next((r for r in ctx.reports.regions if r.key == key), None)
    return region.label.get(ctx.staff.locale) if region else ""


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


def show_value(spec: FieldSpec, value: Any, ctx: FlowContext) -> str:
    """A stored answer as plain text for the filer."""
    return answer_text(spec, value, ctx.fields)


def _item_label(spec: FieldSpec, item: Any, ctx: FlowContext) -> str:
    if spec.type == "channels":
        return item["name"]
    return field_types.display(spec, [item], ctx.fields)


def summary_rows(step: Step, ctx: FlowContext) -> list[tuple[str, str]]:
    """(label, value) for every field of the draft, in form order."""
    return answer_rows(step.form, step.draft.answers, ctx.fields)


def keyboard(step: Step, ctx: FlowContext) -> Buttons:
    """The buttons under a step (callback data carries the draft's id and version)."""
    loc = ctx.staff.locale
    if step.kind == StepKind.NOTHING_DUE:
        rows = [[(t(loc, "File for today anyway"), START_ANYWAY.pack(step.form.key))]]
        for note in step.notes:
            if note.startswith("editable:"):
                period = note.split(":", 1)[1]
                day = Period.parse(period).start.strftime("%m-%d")
                label = t(loc, "Edit the report of %(day)s", day=day)
                rows.insert(0, [(label, EDIT_PAST.pack(step.form.key, period))])
        return rows
    if step.kind == StepKind.FILED and step.report is not None:
        items = answer_items(step.form, step.report.answers, ctx.fields)
        return full_text_buttons("r", step.report.id, items, loc)
    if step.draft is None or step.kind in (StepKind.FILED, StepKind.CANCELLED, StepKind.OTHER_FORM):
        return []

    def data(action: str, arg: object = "") -> str:
        return FORM.pack(step.draft.id, step.draft.version, action, arg)

    if step.kind == StepKind.REVIEW:
        items = answer_items(step.form, step.draft.answers, ctx.fields)
        return [
            *full_text_buttons("d", step.draft.id, items, loc),
            [(t(loc, "✅ Submit"), data("ok"))],
            [(t(loc, "✏️ Edit a field"), data("e")), (t(loc, "✖ Cancel"), data("x"))],
        ]
    if step.kind == StepKind.PICK:
        labels = [(f.label.get(loc)[:40], data("f", i)) for i, f in enumerate(step.form.fields)]
        return [*rows_of(labels, 2), [(t(loc, "« Back"), data("r"))]]
    return _question_buttons(step, ctx, data)


def _question_buttons(step: Step, ctx: FlowContext, data: Callable[..., str]) -> Buttons:
    loc = ctx.staff.locale
    spec = step.field
    rows: Buttons = []
    if step.new_channel is not None or spec.type in ("choice", "region", "industry"):
        rows += rows_of([(label, data("c", key)) for key, label in step.options], 3)
    elif spec.type in ("multichoice", "channels"):
        chosen = {_selection_key(spec, item) for item in step.selected}
        toggles = [
            ((("✓ " if key in chosen else "") + label)[:40], data("t", key))
            for key, label in step.options
        ]
        rows += rows_of(toggles, 2)
        rows += _pager(step, data)
        rows.append([(t(loc, "Done"), data("d"))])
    elif spec.type in FILE_TYPES:  # files come as messages; Done takes what has come
        files = [(t(loc, "✅ Done"), data("d"))]
        rows.append(files + ([(t(loc, "🗑 Remove all"), data("cl"))] if step.selected else []))
    if step.suggestion is not None:
        rows.append([(t(loc, "Use %(value)s", value=step.suggestion), data("u"))])
    if step.keepable and step.new_channel is None:
        rows.append([(t(loc, "✔ Keep the current answer"), data("k"))])
    nav = []
    if int(step.draft.cursor) > 0 or step.draft.scratch.get("return") or step.new_channel:
        nav.append((t(loc, "« Back"), data("b")))
    if not spec.required and step.new_channel is None:
        nav.append((t(loc, "Skip"), data("s")))
    nav.append((t(loc, "✖ Cancel"), data("x")))
    rows.append(nav)
    return rows


def _selection_key(spec: FieldSpec, item: Any) -> str:
    return str(item["id"]) if spec.type == "channels" else str(item)


def _pager(step: Step, data: Callable[..., str]) -> Buttons:
    if step.pages <= 1:
        return []
    nav = []
    if step.page > 0:
        nav.append(("◀", data("p", step.page - 1)))
    nav.append((f"{step.page + 1}/{step.pages}", data("p", step.page)))
    if step.page < step.pages - 1:
        nav.append(("▶", data("p", step.page + 1)))
    return [nav]
