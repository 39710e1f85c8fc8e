"""What the summary card of a report typed as a sentence adds: beside each value the words it
was read from, then what is still empty, read twice, contradictory, unplaced or unused."""

from typing import Any

from bot.forms.flow import FlowContext, Step
from bot.forms.summary import period_label

EMPTY_VALUES = (None, "", [])


def sources(step: Step, ctx: FlowContext) -> dict[str, str]:
    """Field key -> the words of the sentence its value was read from."""
    record = _record(step)
    return dict(record.get("from", {})) if record else {}


def reading(step: Step, ctx: FlowContext) -> dict[str, Any] | None:
    """The card's account of the reading (None when the draft came from no sentence)."""
    record = _record(step)
    if not record:
        return None
    form, loc = step.form, ctx.staff.locale
    answers = step.draft.answers

    def label(key: str) -> str:
        spec = form.field(key)
        return spec.label.get(loc) if spec else key

    return {
        "empty": [label(f.key) for f in form.fields if answers.get(f.key) in EMPTY_VALUES],
        "conflicts": [
            {"label": label(k), "words": " / ".join(f"“{w}”" for w in words)}
            for k, words in record.get("conflicts", {}).items()
        ],
        "twice": [label(k) for k in record.get("twice", [])],
        "bad": [
            {"label": label(k), "words": w}
            for k, (w, _) in record.get("bad", {}).items()
            if answers.get(k) in EMPTY_VALUES
        ],
        "none": [{"label": label(k), "words": w} for k, w in record.get("none", {}).items()],
        "unplaced": [words for _, _, words in record.get("unplaced", [])],
        "vague": list(record.get("vague", [])),
        "leftover": list(record.get("leftover", [])),
        "learned": [{"word": w, "label": label(k)} for w, k in record.get("learned", [])],
    }


def _record(step: Step) -> dict[str, Any] | None:
    draft = step.draft
    return (draft.scratch or {}).get("read") if draft is not None else None


def period_closed(step: Step, ctx: FlowContext) -> str | None:
    """The period a sentence named (昨天的日报) when its report can no longer be filed."""
    note = next((n for n in step.notes if n.startswith("period_closed:")), None)
    return period_label(note.split(":", 1)[1], ctx.staff.locale) if note else None
