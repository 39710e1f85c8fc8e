"""How a report form is declared in configuration: fields, who files it, when it is due."""

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FieldType = Literal[
    "int",  # whole number within [min, max]
    "decimal",  # number with up to `decimals` places
    "money",  # CNY, stored as whole fen
    "text",  # one line, up to max_length
    "longtext",  # several lines, up to max_length
    "choice",  # one of `choices`
    "multichoice",  # several of `choices` (Done button)
    "date",  # a calendar date
    "group",  # repeating items of sub-`fields` (e.g. indicator + value + unit)
    "region",  # one of the configured regions (沈阳 first)
    "industry",  # one of the configured industries
    "channels",  # channels from the library (paged keyboard or typed name)
    "photo",  # photos sent in the chat (an image sent as a file too): receipts, a design
    "document",  # files sent in the chat, of the `accept`ed types: a draft, a bid document
]
NUMERIC_TYPES = ("int", "decimal", "money")
CHOICE_TYPES = ("choice", "multichoice")
FILE_TYPES = ("photo", "document")
# What a file field takes when neither it nor [files] says (bot/config.py: FilesSettings):
# 20 MB is the most a bot may download through Telegram's Bot API (getFile).
DEFAULT_MAX_MB = 20.0
DEFAULT_ACCEPT = ("pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "csv", "zip",
                  "jpg", "jpeg", "png")  # fmt: skip
_ACCEPT_ITEM = re.compile(r"^(?:[a-z0-9]{1,10}|[a-z]+/(?:\*|[a-z0-9][a-z0-9.+-]{0,80}))$")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Due on a working day counted in the period, closing working days later (not a weekday).
LONG_CADENCES = ("monthly", "quarterly", "yearly")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Labels(Strict):
    """A text in both languages."""

    zh: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)

    def get(self, locale: str) -> str:
        """The text in `locale` (Chinese when unknown)."""
        return self.en if locale == "en" else self.zh


class Synonyms(Strict):
    """Words people use for a field in a sentence ("下载", "downloads"): the sentence reader
    (bot/forms/reader) attaches a number to the field whose word is nearest; for a text field
    they are the cue words its text starts after ("明天", "问题")."""

    zh: tuple[str, ...] = ()
    en: tuple[str, ...] = ()

    @field_validator("zh", "en")
    @classmethod
    def _words(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(w.strip() for w in words)
        if any(not w or len(w) > 40 for w in cleaned):
            raise ValueError("synonyms: each is 1–40 characters")
        return cleaned

    def all(self) -> tuple[str, ...]:
        """Every synonym, both languages."""
        return (*self.zh, *self.en)


class Choice(Strict):
    """One option of a choice field, a region or an industry."""

    key: str
    label: Labels

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        return _checked_key(key)


class FieldSpec(Strict):
    """One question of a form."""

    key: str
    type: FieldType
    label: Labels  # short: it heads the answer on every card ("量化指标：下载量 5,000 次")
    help: Labels | None = None  # the question and its input hint, shown when it is asked
    # Earlier or longer names a one-message filing still accepts (people paste old templates).
    aliases: tuple[str, ...] = ()
    # What a sentence may call it ("带来下载" for downloads); bot/forms/reader reads them.
    synonyms: Synonyms = Synonyms()
    required: bool = True
    metric: bool = False
    min: float | None = None
    max: float | None = None
    decimals: int = Field(default=2, ge=0, le=4)
    max_length: int = Field(default=500, ge=1, le=3500)
    choices: tuple[Choice, ...] = ()
    fields: tuple["FieldSpec", ...] = ()
    max_items: int = Field(default=10, ge=1, le=50)  # a file field: 1 unless it says
    # File fields: the document types taken (extensions "pdf" or MIME types "image/*"; none:
    # [files] accept) and the largest file in MB (none: [files] max_mb). Settings fills both.
    accept: tuple[str, ...] = ()
    max_mb: float | None = Field(default=None, gt=0, le=2000)
    # Where a suggested answer comes from (e.g. the channel library's stage changes today).
    suggest: str | None = None
    # What a new draft starts with (e.g. "feedback:week" — the week's feedback, summarised).
    prefill: str | None = None
    # A problem raised or help asked for: the directors' daily digest lists what people wrote
    # here that day, by name (text fields of daily forms; bot/services/digests.py: raised).
    problems: bool = False

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        return _checked_key(key)

    @model_validator(mode="before")
    @classmethod
    def _one_file_unless_said(cls, data: Any) -> Any:
        # Most file questions want one file (a draft article); receipts say max_items = 10.
        if isinstance(data, dict) and data.get("type") in FILE_TYPES and "max_items" not in data:
            return {**data, "max_items": 1}
        return data

    @field_validator("accept")
    @classmethod
    def _accept(cls, accept: tuple[str, ...]) -> tuple[str, ...]:
        items = tuple(a.strip().lower().lstrip(".") for a in accept)
        for item in items:
            if not _ACCEPT_ITEM.match(item):
                raise ValueError(f"accept: {item!r} is neither an extension (pdf) nor a MIME type")
        return items

    @model_validator(mode="after")
    def _files(self) -> "FieldSpec":
        if self.accept and self.type != "document":
            raise ValueError(f"field {self.key}: only a document field has accept")
        if self.max_mb is not None and self.type not in FILE_TYPES:
            raise ValueError(f"field {self.key}: only a photo or document field has max_mb")
        if self.type in FILE_TYPES and (self.metric or self.prefill or self.suggest):
            raise ValueError(
                f"field {self.key}: a {self.type} field is no metric, pre-fill or suggestion"
            )
        return self

    @model_validator(mode="after")
    def _coherent(self) -> "FieldSpec":
        if self.metric and self.type not in (*NUMERIC_TYPES, "channels", "group"):
            raise ValueError(
                f"field {self.key}: only numbers (or channels and groups, counted) are metrics"
            )
        if self.type in CHOICE_TYPES and len(self.choices) < 2:
            raise ValueError(f"field {self.key}: a {self.type} needs at least two choices")
        if self.type == "group" and not self.fields:
            raise ValueError(f"field {self.key}: a group needs sub-fields")
        if self.type == "group" and any(
            f.type in ("group", "channels", *FILE_TYPES) for f in self.fields
        ):
            raise ValueError(f"field {self.key}: a group holds simple fields only")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"field {self.key}: min is above max")
        if self.problems and self.type not in ("text", "longtext"):
            raise ValueError(f"field {self.key}: only text fields hold problems raised")
        return self


# Who decides an approval step: the directors, everyone holding a role, one person by their
# Telegram @handle, or the proposer's lead (ApprovalSpec.leads; the directors when none is named).
DECIDER = re.compile(r"^(directors|lead|role:[a-z][a-z0-9_]{0,31}|person:@[A-Za-z0-9_]{3,32})$")


class StepCondition(Strict):
    """An approval step that applies only when a number field of the filing is over a bound
    (money fields are compared in fen: ¥5,000 is 500000), or a choice field's answer is one of
    some choices (`in`: a content review's second step for the kinds named)."""

    model_config = ConfigDict(populate_by_name=True)

    field: str
    over: int | None = None
    among: tuple[str, ...] | None = Field(default=None, alias="in")

    @field_validator("field")
    @classmethod
    def _key(cls, key: str) -> str:
        return _checked_key(key)

    @model_validator(mode="after")
    def _one_test(self) -> "StepCondition":
        if (self.over is None) == (self.among is None):
            raise ValueError(f"when on {self.field!r}: give either over = <number> or in = [...]")
        return self

    def holds(self, answers: dict) -> bool:
        """True when the filing's answer meets the condition (no answer: it does not)."""
        value = answers.get(self.field)
        if self.among is not None:
            chosen = value if isinstance(value, list) else [value]
            return any(v in self.among for v in chosen)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return value > self.over


class ApprovalBudget(Strict):
    """[forms.approval.budget]: a money field held in a budget pool while the request waits,
    charged when approved, released when rejected or withdrawn; the card shows the pool."""

    amount: str  # a money field
    pool: str | None = None  # a [[budgets.pools]] key, or:
    pool_field: str | None = None  # a choice field whose choice keys are pool keys
    date: str | None = None  # a date field whose day picks the period (else the filing day)

    @model_validator(mode="after")
    def _one_pool(self) -> "ApprovalBudget":
        if (self.pool is None) == (self.pool_field is None):
            raise ValueError("budget: give either pool = <key> or pool_field = <choice field>")
        return self


class ApprovalStep(Strict):
    """One step of an approval: who decides, its name on the card, and when it applies."""

    who: str
    name: Labels
    when: StepCondition | None = None

    @field_validator("who")
    @classmethod
    def _who(cls, who: str) -> str:
        if not DECIDER.match(who):
            raise ValueError(
                f"who = {who!r}: expected directors, lead, role:<role> or person:@<handle>"
            )
        return who

    def role(self) -> str | None:
        """The role this step names (role:<key>), if any."""
        return self.who.split(":", 1)[1] if self.who.startswith("role:") else None


class ApprovalAfter(Strict):
    """What follows the last approval. Each key set here runs its action, registered under the
    same name in bot/services/approvals.py AFTER_APPROVAL (a new key needs a new entry there)."""

    announce: Literal["group", "directors", "none"] = "none"
    # bot/services/approval_followups.py: the proposer is asked for the published link (an
    # http(s) URL), shown in /mine, to the directors and on the group's announcement.
    ask_link: bool = False
    # The content's figures, filed through `figures_form` (an adhoc form) this many working days
    # after the link was given (after the approval when no link is asked).
    figures_after_days: int | None = Field(default=None, ge=1, le=60)
    figures_form: str | None = None
    # Results, filed through `results_form` (an adhoc form) once the day in the form's date field
    # `results_after` (a research's end date) has passed, like an activity's results.
    results_after: str | None = None
    results_form: str | None = None
    # The request runs from the day in this date field (an activity's start date): the tick moves
    # it approved -> running on that day; filing its results (results_form) completes it.
    start_on: str | None = None

    @model_validator(mode="after")
    def _pairs(self) -> "ApprovalAfter":
        # Half a pair would ask for nothing, or for a form at no time: refuse it.
        for when, form in (
            ("figures_after_days", "figures_form"),
            ("results_after", "results_form"),
        ):
            if (getattr(self, when) is None) != (getattr(self, form) is None):
                raise ValueError(f"after: {when} and {form} go together")
        return self

    def forms(self) -> tuple[str, ...]:
        """The forms this approval's follow-ups are filed through."""
        return tuple(f for f in (self.figures_form, self.results_form) if f)


class ApprovalSpec(Strict):
    """[forms.approval]: the steps a filing goes through, their deadline, what needs a reason."""

    deadline_workdays: int = Field(default=2, ge=1, le=20)  # per step
    # "suggestion" (合理化建议): the deciders answer 采纳 / 已阅 / 不采纳, each with a reply the
    # proposer reads, instead of approve / send back / reject.
    style: Literal["approval", "suggestion"] = "approval"
    reason_required: tuple[Literal["reject", "changes"], ...] = ("reject", "changes")
    steps: tuple[ApprovalStep, ...]
    # who = "lead": the proposer's role -> who leads it ("role:<key>" or "person:@handle"); the
    # first of the proposer's roles named here wins; without one, the directors decide.
    leads: dict[str, str] = Field(default_factory=dict)
    budget: ApprovalBudget | None = None
    after: ApprovalAfter = ApprovalAfter()

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: tuple[ApprovalStep, ...]) -> tuple[ApprovalStep, ...]:
        if not steps:
            raise ValueError("an approval needs at least one step")
        if len(steps) > 9:
            raise ValueError("at most 9 approval steps")
        return steps

    @field_validator("leads")
    @classmethod
    def _leads(cls, leads: dict[str, str]) -> dict[str, str]:
        for role, who in leads.items():
            _checked_key(role)
            if not who.startswith(("role:", "person:")) or not DECIDER.match(who):
                raise ValueError(f"leads.{role} = {who!r}: expected role:<role> or person:@<h>")
        return leads

    def roles(self) -> set[str]:
        """Every role the approval names (checked against [roles] by Settings)."""
        named = {s.role() for s in self.steps} | set(self.leads)
        named |= {w.split(":", 1)[1] for w in self.leads.values() if w.startswith("role:")}
        return {r for r in named if r}


class FormSpec(Strict):
    """A report: who files it, how often, when it is due and closes, and its questions."""

    key: str
    name: Labels
    command: str
    # Its line in the command menu, /help and the welcome ("File …"); its name when not given.
    menu: Labels | None = None
    roles: tuple[str, ...]
    # daily … yearly reports are owed (obligations, bot/services/obligations.py: schedule);
    # adhoc forms are filed when someone wants to (an activity plan), each filing a new object.
    cadence: Literal["daily", "weekly", "monthly", "quarterly", "yearly", "adhoc"]
    due_time: str = "18:00"  # team-local; weekly: on due_weekday (or the week's last workday)
    due_weekday: str = "fri"
    # monthly / quarterly / yearly: due on this working day of the period (-1 its last, 1 its
    # first) and open until close_time on the close_workdays-th working day after the due day.
    due_workday: int = Field(default=-1, ge=-10, le=10)
    close_workdays: int = Field(default=2, ge=1, le=10)
    grace_minutes: int = Field(default=0, ge=0, le=24 * 60)
    close_time: str = "12:00"  # daily: next working day; weekly: the next Monday; see above
    # What a filing becomes: a report (owed forms), a new activity plan, or a plan's results.
    target: Literal["report", "activity_plan", "activity_results", "approval"] = "report"
    # Who is sent the filed report (target "report"): "directors" (each gets a compact card in
    # private), "group" (the team group gets the card, and anyone on the team may read it in
    # full), both, or nobody (`announce = []`: the filer, the directors through /export and
    # the digests). bot/services/announce.py.
    announce: tuple[Literal["directors", "group"], ...] = ()
    # Who decides a filing of target "approval" or "activity_plan", in steps
    # (bot/services/approvals.py).
    approval: ApprovalSpec | None = None
    fields: tuple[FieldSpec, ...]

    @field_validator("key", "command")
    @classmethod
    def _key(cls, key: str) -> str:
        return _checked_key(key)

    @field_validator("due_time", "close_time")
    @classmethod
    def _time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("expected a time like 18:00")
        return value

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        # Whether each names a role is checked against [roles] by Settings (decision 54).
        if not roles:
            raise ValueError("roles: name at least one role that files this form")
        return tuple(_checked_key(r) for r in roles)

    @field_validator("due_weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        if value not in WEEKDAYS:
            raise ValueError(f"expected one of {', '.join(WEEKDAYS)}")
        return value

    @field_validator("due_workday")
    @classmethod
    def _workday(cls, value: int) -> int:
        if value == 0:
            raise ValueError("working days count from 1 (the first) or -1 (the last)")
        return value

    @model_validator(mode="after")
    def _cadence_rules(self) -> "FormSpec":
        # due_workday / close_workdays say nothing to a daily or weekly form: refuse, not ignore.
        given = {"due_workday", "close_workdays"} & self.model_fields_set
        if given and self.cadence not in LONG_CADENCES:
            names = ", ".join(sorted(given))
            raise ValueError(f"form {self.key}: {names} is for monthly, quarterly or yearly forms")
        return self

    @model_validator(mode="after")
    def _visibility(self) -> "FormSpec":
        if len(set(self.announce)) != len(self.announce):
            raise ValueError(f"form {self.key}: announce names a reader twice")
        # Only the daily digest lists problems raised: refuse the flag elsewhere, not ignore it.
        if self.cadence != "daily" and any(f.problems for f in self.fields):
            raise ValueError(f"form {self.key}: problems are listed from daily forms only")
        return self

    @model_validator(mode="after")
    def _unique_fields(self) -> "FormSpec":
        keys = [f.key for f in self.fields]
        if len(keys) != len(set(keys)):
            raise ValueError(f"form {self.key}: two fields share a key")
        if not self.fields:
            raise ValueError(f"form {self.key}: no fields")
        metric_keys = [f.key for f, _ in self.metrics()]
        if len(metric_keys) != len(set(metric_keys)):
            raise ValueError(f"form {self.key}: two metrics share a key")
        return self

    def _plan_approval(self, approval: "ApprovalSpec") -> None:
        # A plan charges its budget and asks for its results itself (bot/services/budgets.py
        # plan_charge, activity_results): the engine's would charge and ask a second time.
        after = approval.after
        if (
            approval.budget is not None
            or after.ask_link
            or after.figures_form
            or after.results_form
        ):
            raise ValueError(
                f"form {self.key}: an activity plan's [forms.approval] takes steps, deadline and "
                "announce only (its budget and results are the plan's own)"
            )

    @model_validator(mode="after")
    def _approval(self) -> "FormSpec":
        # An approval says nothing to a report, and an approvable form without one decides
        # nothing: refuse both rather than ignore them. An activity plan keeps its own target
        # and may carry one (without it, bot/services/activities.py DEFAULT_APPROVAL).
        if self.target == "approval" and self.approval is None:
            raise ValueError(f'form {self.key}: target = "approval" goes with [forms.approval]')
        if self.approval is not None and self.target not in ("approval", "activity_plan"):
            raise ValueError(
                f'form {self.key}: [forms.approval] goes with target = "approval" or '
                '"activity_plan"'
            )
        if self.approval is not None and self.target == "activity_plan":
            self._plan_approval(self.approval)
        if self.approval is not None and self.cadence != "adhoc":
            raise ValueError(f"form {self.key}: only adhoc forms are approved (cadence = adhoc)")
        for step in self.approval.steps if self.approval else ():
            if step.when is None:
                continue
            field = self.field(step.when.field)
            wanted = NUMERIC_TYPES if step.when.over is not None else ("choice", "multichoice")
            if field is None or field.type not in wanted:
                kind = "number" if step.when.over is not None else "choice"
                raise ValueError(
                    f"form {self.key}: approval step {step.name.en!r} depends on "
                    f"{step.when.field!r}, which is not a {kind} field of the form"
                )
            known = {c.key for c in field.choices}
            if step.when.among is not None and not set(step.when.among) <= known:
                raise ValueError(f"form {self.key}: step {step.name.en!r} names unknown choices")
        after = self.approval.after if self.approval else None
        for name in ("results_after", "start_on"):
            key = getattr(after, name) if after is not None else None
            field = self.field(key) if key is not None else None
            if key is not None and (field is None or field.type != "date"):
                raise ValueError(
                    f"form {self.key}: after.{name} names {key!r}, not a date field of the form"
                )
        budget = self.approval.budget if self.approval else None
        for key, types in (
            (budget.amount if budget else None, ("money",)),
            (budget.pool_field if budget else None, ("choice",)),
            (budget.date if budget else None, ("date",)),
        ):
            field = self.field(key) if key else None
            if key and (field is None or field.type not in types):
                raise ValueError(f"form {self.key}: budget names {key!r}, not a {types[0]} field")
        return self

    def metrics(self) -> list[tuple["FieldSpec", "FieldSpec | None"]]:
        """Every figure KPIs may read, with the group it sums over (None for a field of its own):
        metric fields, and a group's metric sub-fields (summed over the group's items)."""
        found: list[tuple[FieldSpec, FieldSpec | None]] = []
        for field in self.fields:
            if field.metric:
                found.append((field, None))
            found += [(sub, field) for sub in field.fields if sub.metric]
        return found

    def field(self, key: str) -> FieldSpec | None:
        """The field with this key, if the form (still) has it."""
        return next((f for f in self.fields if f.key == key), None)


class ReportsConfig(Strict):
    """The [reports] table: forms, regions and industries."""

    forms: tuple[FormSpec, ...]
    regions: tuple[Choice, ...]
    industries: tuple[Choice, ...]

    @model_validator(mode="after")
    def _unique_forms(self) -> "ReportsConfig":
        for what, items in (
            ("form", self.forms),
            ("region", self.regions),
            ("industry", self.industries),
        ):
            keys = [i.key for i in items]
            if len(keys) != len(set(keys)):
                raise ValueError(f"two {what}s share a key")
        commands = [f.command for f in self.forms]
        if len(commands) != len(set(commands)):
            raise ValueError("two forms share a command")
        return self

    @model_validator(mode="after")
    def _prefills(self) -> "ReportsConfig":
        # A pre-fill naming nothing would silently start every draft empty: refuse it.
        for form in self.forms:
            for field in form.fields:
                if field.prefill:
                    problem = _prefill_problem(self, form, field)
                    if problem:
                        raise ValueError(f"form {form.key}, field {field.key}: {problem}")
        return self

    @model_validator(mode="after")
    def _followup_forms(self) -> "ReportsConfig":
        # A follow-up is filed as an adhoc report (bot/services/approval_followups.py).
        for form in self.forms:
            for key in form.approval.after.forms() if form.approval else ():
                other = self.form(key)
                if other is None or other.cadence != "adhoc" or other.target != "report":
                    raise ValueError(
                        f"form {form.key}: after names form {key!r}, which is not an adhoc "
                        'report form (cadence = "adhoc", target = "report")'
                    )
        return self

    def form(self, key: str) -> FormSpec | None:
        """The form with this key, if configured."""
        return next((f for f in self.forms if f.key == key), None)


# bot/services/filing.py and bot/services/prefill.py fill these.
FIXED_PREFILLS = {
    "feedback:week": ("longtext",),
    "activity:targets": ("group",),
    "channels:period": ("longtext",),
    # The title of the approved request whose follow-up asks for this form (approval_followups).
    "approval:title": ("text",),
}


def _prefill_problem(reports: ReportsConfig, form: FormSpec, field: FieldSpec) -> str | None:
    source = field.prefill or ""
    if source in FIXED_PREFILLS:
        ok = field.type in FIXED_PREFILLS[source]
        return None if ok else f"prefill {source} fills a {' or '.join(FIXED_PREFILLS[source])}"
    parts = source.split(":")
    if parts[0] != "sum" or len(parts) not in (2, 3):
        return f"unknown prefill {source!r} (sum:<form>[:<field>], or {', '.join(FIXED_PREFILLS)})"
    if form.cadence == "adhoc" or field.type not in NUMERIC_TYPES:
        return "a sum pre-fills a number of a daily … yearly form"
    other = reports.form(parts[1])
    key = parts[2] if len(parts) == 3 else field.key
    if other is None or key not in {m.key for m, _ in other.metrics()}:
        return f"prefill {source}: no metric {key} in a form {parts[1]}"
    return None


def _checked_key(key: str) -> str:
    if not KEY.match(key):
        raise ValueError(f"{key!r}: keys are lowercase letters, digits and _ (max 32)")
    return key


DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")


@cache
def default_reports() -> ReportsConfig:
    """The shipped forms, regions and industries (DOMAIN.md)."""
    with DEFAULTS_FILE.open("rb") as fh:
        return ReportsConfig.model_validate(tomllib.load(fh))
