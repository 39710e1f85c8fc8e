"""Filing a report typed as one sentence: read it (bot/forms/reader), put what was understood
into the draft with where each value came from, ask for what is missing, and show the card.
Nothing is filed until the person presses Submit; their corrections teach the reader their words.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.forms import flow
from bot.forms.fields import FieldError, parse_answer, parse_choice_key
from bot.forms.oneshot import OneShot
from bot.forms.reader import Known, Reading, read
from bot.forms.reader.text import MAX_TEXT
from bot.forms.spec import FormSpec
from bot.models import Channel, Draft
from bot.services import filing, obligations, synonyms
from bot.services.filing import Opening
from bot.states import ObligationStatus

# Number fields whose answer is the number read (money is stored in fen): corrections teach.
COUNTED = ("int", "decimal")
SNIPPET_MAX = 40  # characters of the sentence quoted beside a value on the card
LIBRARY_MAX = 20_000  # channels the reader compares names with (a team's library is smaller)
# Built once (SQLAlchemy memoizes a statement's cache key; a report in words runs it).
_LIBRARY = select(Channel.id, Channel.name).limit(LIBRARY_MAX)


@dataclass
class Understood:
    """A sentence read for one person and form, ready to be put into a draft."""

    reading: Reading
    answers: dict[str, Any]
    errors: dict[str, FieldError]
    known: dict[str, dict[str, Any]]  # channel name -> {"id", "name"}

    @property
    def count(self) -> int:
        """How many fields the sentence filled."""
        return len(self.answers)


async def understand(session: AsyncSession, ctx: "flow.FlowContext", text: str) -> Understood:
    """Read `text` for `ctx.form` with the person's own words and the channel library."""
    rows = await session.execute(_LIBRARY)
    library = [Known(channel_id, name) for channel_id, name in rows]
    personal = await synonyms.for_form(session, ctx.staff.id, ctx.form.key)
    reading = read(ctx.form, text, today=ctx.today, known=library, personal=personal,
                   regions=ctx.reports.regions, industries=ctx.reports.industries)  # fmt: skip
    answers, errors = _answers(ctx, reading)
    known = {h.name: {"id": h.channel.id, "name": h.channel.name}
             for h in reading.channels if h.channel is not None}  # fmt: skip
    return Understood(reading, answers, errors, known)


def labels_win(labelled: OneShot, text: str) -> bool:
    """Several lines with labels in them read as labelled lines (a pasted template reads as
    before), whatever the sentence reader would make of them: it need not be asked."""
    return bool(labelled.answers) and "\n" in text[:MAX_TEXT].strip()


def better_than_labels(understood: Understood, labelled: OneShot) -> bool:
    """The sentence reading is used when it fills more fields than "label: value" lines do,
    and never when the labels win (`labels_win`)."""
    if labels_win(labelled, understood.reading.text):
        return False
    return understood.count > len(labelled.answers)


def _answers(ctx: "flow.FlowContext", reading: Reading) -> tuple[dict, dict]:
    """The values read, checked by each field's own rules (a range, a length, a date)."""
    answers: dict[str, Any] = {}
    errors: dict[str, FieldError] = {}
    for key, found in reading.found.items():
        spec = ctx.form.field(key)
        try:
            if spec.type == "channels":
                answers[key] = list(found.value)[: spec.max_items]
            elif spec.type in ("choice", "region", "industry"):
                answers[key] = parse_choice_key(spec, found.value, ctx.fields)
            elif spec.type == "multichoice":
                answers[key] = [parse_choice_key(spec, k, ctx.fields) for k in found.value]
            elif isinstance(found.value, Decimal):
                answers[key] = parse_answer(spec, format(found.value, "f"), ctx.fields)
            elif isinstance(found.value, date):
                answers[key] = parse_answer(spec, found.value.isoformat(), ctx.fields)
            else:
                answers[key] = parse_answer(spec, str(found.value), ctx.fields)
        except FieldError as error:
            errors[key] = error
    return answers, errors


# ---- into the draft -------------------------------------------------------------------------


async def file(
    session: AsyncSession, ctx: "flow.FlowContext", understood: Understood
) -> "flow.Step":
    """Start (or continue) the draft with what the sentence said, then ask what is missing."""
    step = await _begin(session, ctx, understood.reading.period_day)
    if step.kind in (flow.StepKind.OTHER_FORM, flow.StepKind.NO_RESULTS):
        return step
    return await put(session, step.draft, ctx, understood, step.notes)


async def put(session, draft: Draft, ctx: "flow.FlowContext", understood: Understood, notes=()):
    """Put a reading into an open draft: the values, the channels (new names to add), where each
    value came from (kept in the draft for the card), then the missing fields one by one."""
    answers = dict(draft.answers)
    new_names: list[str] = []
    for key, value in understood.answers.items():
        spec = ctx.form.field(key)
        if spec.type == "channels":
            refs = [understood.known[n] for n in value if n in understood.known]
            new_names = [n for n in value if n not in understood.known]
            answers[key] = refs or None
        else:
            answers[key] = value
    draft.answers = answers
    draft.scratch = {"read": _record(ctx.form, understood)}
    flow._touch(draft)
    channels_field = next((f for f in ctx.form.fields if f.type == "channels"), None)
    if new_names and channels_field is not None:  # offered to add, one by one, as when typed
        draft.mode, draft.cursor = flow.Mode.ASK, str(ctx.form.fields.index(channels_field))
        draft.scratch = {**draft.scratch, "sel": answers.get(channels_field.key) or [],
                         "new": {"name": new_names[0][:128], "queue": new_names[1:]},
                         "return": "missing"}  # fmt: skip
        step = await flow.show(session, draft, ctx, notes=notes)
    else:
        step = await flow._next_missing(session, draft, ctx, notes)
    if step.kind == flow.StepKind.ASK:  # the card comes once the missing fields are answered
        step.notes = (*step.notes, "sentence")
    return step


def _record(form: FormSpec, understood: Understood) -> dict[str, Any]:
    """What the card shows about the reading: each value's words, and what to point out."""
    reading = understood.reading

    def quote(spans) -> str:
        text = reading.snippet(spans)
        return text if len(text) <= SNIPPET_MAX else text[: SNIPPET_MAX - 1] + "…"

    def words(key: str, spans) -> str:
        if form.field(key).type != "channels":
            return quote(spans)
        names = dict.fromkeys(reading.text[start:end] for start, end in spans)  # each name once
        return quote([(0, 0)]) if not names else "、".join(names)[:SNIPPET_MAX]

    return {
        "from": {k: words(k, f.spans) for k, f in reading.found.items() if k in understood.answers},
        "how": {k: f.how for k, f in reading.found.items() if k in understood.answers},
        "bad": {k: [quote(reading.found[k].spans), e.reason] for k, e in understood.errors.items()},
        "twice": [k for k in reading.repeated if k in understood.answers],
        # number fields read by a word: (value, word), for a correction that moves the value
        "placed": {
            k: [format(f.value, "f"), f.word]
            for k, f in reading.found.items()
            if f.word and form.field(k).type in COUNTED and k in understood.answers
        },
        "conflicts": {k: [quote(f.spans) for f in fs] for k, fs in reading.conflicts.items()},
        "none": {k: quote(f.spans) for k, f in reading.said_none.items()},
        "unplaced": [
            [format(n.value, "f"), words, quote([(n.start, n.end)])]
            for n, words in reading.unplaced
        ][:5],
        "vague": [quote([span]) for _, span in reading.vague][:5],
        "leftover": [t[:SNIPPET_MAX] for t in reading.leftover],
        "new": [h.name for h in reading.channels if h.channel is None][:10],
        "learned": [],
    }


async def _begin(session: AsyncSession, ctx: "flow.FlowContext", day: date | None) -> "flow.Step":
    """The draft to fill, opened but not drawn (`flow.opened`: `put` shows what comes next): the
    person's open one, the period the sentence names (昨天的日报) while it is open, or what
    /daily would open."""
    draft = await flow.draft_of(session, ctx.staff.id)
    if draft is not None or day is None or ctx.form.cadence == "adhoc":
        return await _begin_as_usual(session, ctx)
    wanted = obligations.period_of(ctx.form, day).key
    opening = await filing.opening(session, ctx.staff, ctx.form, ctx.today)
    if opening.key == wanted:
        return await flow._start(session, ctx, opening, present=flow.opened)
    owed = await obligations.for_period(session, ctx.staff.id, ctx.form.key, wanted)
    open_now = owed is not None and owed.closes_at > clock.now()
    if open_now and owed.status == ObligationStatus.OPEN and day <= ctx.today:
        return await flow._start(session, ctx, Opening(wanted, owed.id), present=flow.opened)
    edit = await filing.editing(session, ctx.staff, ctx.form, ctx.today, wanted)
    if edit is not None:
        return await flow._start(session, ctx, edit, present=flow.opened)
    step = await _begin_as_usual(session, ctx)
    step.notes = (*step.notes, f"period_closed:{wanted}")
    return step


async def _begin_as_usual(session: AsyncSession, ctx: "flow.FlowContext") -> "flow.Step":
    step = await flow.begin(session, ctx, flow.opened)
    if step.kind == flow.StepKind.NOTHING_DUE:
        step = await flow.begin_anyway(session, ctx, flow.opened)
    return step


# ---- corrections ----------------------------------------------------------------------------


async def answered(
    session: AsyncSession, draft: Draft, ctx: "flow.FlowContext", key: str, value: Any
) -> None:
    """A field answered after a sentence: its value is now the person's (the card stops quoting
    the sentence for it); when the answer is a number the sentence held beside a word the reader
    did not know ("拉新20人"), or one it read into another field the person then changed, that
    word becomes the person's own word for the field."""
    record = (draft.scratch or {}).get("read")
    if not record or draft.answers.get(key) == value:
        return
    record = {**record, "from": {k: v for k, v in record.get("from", {}).items() if k != key}}
    spec = ctx.form.field(key)
    taught = False
    if spec is not None and spec.type in COUNTED and value is not None:
        for number, words, snippet in record.get("unplaced", []):
            if not words or not _same(value, number):
                continue
            await synonyms.learn(session, ctx.staff.id, ctx.form.key, key, words)
            record["learned"] = [*record.get("learned", []), [words, key]]
            record["unplaced"] = [u for u in record["unplaced"] if u[1] != words]
            record["from"][key] = snippet
            record["how"] = {**record.get("how", {}), key: "mine"}
            taught = True
            break
    if spec is not None and spec.type in COUNTED and not taught:
        record = await _moved(session, ctx, record, {**draft.answers, key: value})
    draft.scratch = {**draft.scratch, "read": record}


async def _moved(session: AsyncSession, ctx: "flow.FlowContext", record: dict, answers: dict):
    """A value read by one field's word that the person moved to another field (新增20 read as
    new channels; they enter 20 as registrations and change new channels): for this person that
    word means the other field."""
    for source, (number, word) in record.get("placed", {}).items():
        if _same(answers.get(source), number):
            continue  # still where it was read: nothing moved
        target = next((k for k, v in answers.items() if k != source and _same(v, number)
                       and ctx.form.field(k) is not None
                       and ctx.form.field(k).type in COUNTED), None)  # fmt: skip
        if target is None:
            continue
        await synonyms.learn(session, ctx.staff.id, ctx.form.key, target, word)
        record = {**record, "learned": [*record.get("learned", []), [word, target]]}
        record["placed"] = {k: v for k, v in record["placed"].items() if k != source}
        return record
    return record


def _same(value: Any, number: str) -> bool:
    """True when a stored answer is this number (answers of int and decimal fields)."""
    if value is None or isinstance(value, bool):
        return False
    try:
        return Decimal(str(value)) == Decimal(number)
    except ArithmeticError:
        return False
