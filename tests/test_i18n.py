"""Every message is translated into zh and en, and every template escapes user input."""

import os
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from test_activities import CONTEXTS as ACTIVITY_CONTEXTS
from test_activities import NO_USER_INPUT as ACTIVITY_NO_INPUT
from test_approval_followups import CONTEXTS as FOLLOWUP_CONTEXTS
from test_approval_followups import NO_USER_INPUT as FOLLOWUP_NO_INPUT
from test_approvals import CONTEXTS as APPROVAL_CONTEXTS
from test_approvals import NO_USER_INPUT as APPROVAL_NO_INPUT
from test_budgets import CONTEXTS as BUDGET_CONTEXTS
from test_channels import CONTEXTS as CHANNEL_CONTEXTS
from test_channels import NO_USER_INPUT as CHANNEL_NO_INPUT
from test_digests import CONTEXTS as DIGEST_CONTEXTS
from test_feedback import CONTEXTS as FEEDBACK_CONTEXTS
from test_feedback import NO_USER_INPUT as FEEDBACK_NO_INPUT
from test_form_files import CONTEXTS as FILE_CONTEXTS
from test_kpi_cmd import CONTEXTS as KPI_CONTEXTS
from test_kpi_cmd import NO_USER_INPUT as KPI_NO_INPUT
from test_tasks import CONTEXTS as TASK_CONTEXTS
from test_tasks import NO_USER_INPUT as TASK_NO_INPUT

from bot import TEMPLATES_DIR
from bot.cli.i18n import extract, load
from bot.cli.i18n import untranslated as is_untranslated
from bot.i18n import LOCALES, load_catalog, normalise, t
from bot.render import render
from bot.simulator.html import parse_html, utf16_len

HOSTILE = "<zz>&"
ESCAPED = "&lt;zz&gt;&amp;"


def test_every_message_is_in_both_catalogs_and_translated():
    wanted = {m.id for m in extract() if m.id}
    assert len(wanted) > 50
    for locale in LOCALES:
        catalog = {m.id: m for m in load(locale) if m.id}
        missing = sorted(wanted - set(catalog))
        assert not missing, f"{locale}: not in catalog (run `opsbot i18n update`): {missing[:5]}"
        untranslated = sorted(i for i in wanted if is_untranslated(catalog[i]) or catalog[i].fuzzy)
        assert not untranslated, f"{locale}: untranslated: {untranslated[:5]}"


def test_chinese_is_the_default_and_english_available():
    assert t("zh", "✅ Approve") == "✅ 批准"
    assert t("en", "✅ Approve") == "✅ Approve"
    assert normalise("zh-hans") == "zh"
    assert normalise("en-US") == "en"
    assert normalise("fr") == "zh"
    assert normalise(None, default="en") == "en"


PO = """msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "Approve"
msgstr "%s"
"""


def test_a_catalog_is_compiled_once_and_again_when_its_po_changes(tmp_path):
    po = tmp_path / "messages.po"
    po.write_text(PO % "批准", encoding="utf-8")
    assert load_catalog(po, "zh").gettext("Approve") == "批准"
    mo = po.with_suffix(".mo")
    assert mo.exists(), "the compiled catalog is kept beside the .po for the next start"
    assert load_catalog(po, "zh").gettext("Approve") == "批准"  # read from the .mo
    po.write_text(PO % "同意", encoding="utf-8")
    os.utime(po, ns=(mo.stat().st_mtime_ns + 1, mo.stat().st_mtime_ns + 1))
    assert load_catalog(po, "zh").gettext("Approve") == "同意", "a changed .po is compiled again"


def test_a_read_only_install_compiles_in_memory(tmp_path, monkeypatch):
    po = tmp_path / "messages.po"
    po.write_text(PO % "批准", encoding="utf-8")

    def read_only(self, data):  # a container's /app, owned by root, run as another user
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(po), "write_bytes", read_only)
    assert load_catalog(po, "zh").gettext("Approve") == "批准"
    assert list(tmp_path.iterdir()) == [po]


def _person(**kw):
    base = dict(
        display_name=HOSTILE, username=HOSTILE, telegram_id=1, active=True, status="approved"
    )
    return SimpleNamespace(**{**base, **kw})


# Every template with a context in which every user-controlled value is hostile.
CONTEXTS = {
    "join_card.html.j2": dict(req=_person(), role=HOSTILE, decided_by=HOSTILE),
    "welcome.html.j2": dict(name=HOSTILE, roles=[HOSTILE], commands=[("help", HOSTILE)]),
    "welcome_back.html.j2": dict(name=HOSTILE, commands=[("help", HOSTILE)]),
    "invite_used.html.j2": dict(name=HOSTILE, role=HOSTILE),
    "join_choose_role.html.j2": dict(team=HOSTILE),
    "join_error.html.j2": dict(reason="pending", role=HOSTILE),
    "join_requested.html.j2": dict(role=HOSTILE),
    "join_decided_note.html.j2": dict(approved=True, name=HOSTILE),
    "invite_link.html.j2": dict(link=HOSTILE, role=HOSTILE, hours=3, expires=datetime.now(UTC)),
    "staff_list.html.j2": dict(people=[(_person(), [HOSTILE])], page=1, pages=1, total=1),
    "staff_card.html.j2": dict(person=_person(), roles=[HOSTILE]),
    "staff_handover.html.j2": dict(person=_person()),
    "staff_handover_done.html.j2": dict(source=_person(), target=_person(), moved=HOSTILE),
    "staff_changed.html.j2": dict(active=True, roles=[HOSTILE], by=HOSTILE),
    "unknown_command.html.j2": dict(command=HOSTILE),
    "group_bound.html.j2": dict(title=HOSTILE),
    "calendar_fallback.html.j2": dict(year=HOSTILE),
    "unreachable.html.j2": dict(name=HOSTILE),
    "group_lost.html.j2": dict(title=HOSTILE, by=HOSTILE),
    "form_field_error.html.j2": dict(
        reason="bad_group_item",
        label=HOSTILE,
        number=1,
        item=HOSTILE,
        expected=HOSTILE,
        part=HOSTILE,
    ),
}
_ROWS = [(HOSTILE, HOSTILE)]
FORM_COMMON = dict(
    form_name=HOSTILE,
    period=HOSTILE,
    notes=["resumed", "editing"],
    unknown_lines=[HOSTILE],
    error=None,
)
CONTEXTS |= {
    "form_question.html.j2": dict(
        FORM_COMMON,
        index=1,
        total=9,
        label=HOSTILE,
        help=HOSTILE,
        kind="channels",
        required=False,
        current=HOSTILE,
        suggestion=HOSTILE,
        selected=[HOSTILE],
        new_channel={"name": HOSTILE},
        limits={"min": "0", "max": "9", "max_length": 9},
    ),
    "form_notes.html.j2": dict(notes=["resumed"], unknown_lines=[HOSTILE]),
    "form_review.html.j2": dict(
        FORM_COMMON, rows=[(HOSTILE, HOSTILE, HOSTILE)], picking=False, editing=True, reading=None
    ),
    "synonyms.html.j2": dict(
        items=[dict(phrase=HOSTILE, form=HOSTILE, field=HOSTILE)], removed=HOSTILE
    ),
    "form_reading.html.j2": dict(
        reading=dict(
            empty=[HOSTILE],
            conflicts=[dict(label=HOSTILE, words=HOSTILE)],
            twice=[HOSTILE],
            bad=[dict(label=HOSTILE, words=HOSTILE)],
            none=[dict(label=HOSTILE, words=HOSTILE)],
            unplaced=[HOSTILE],
            vague=[HOSTILE],
            leftover=[HOSTILE],
            learned=[dict(word=HOSTILE, label=HOSTILE)],
        )
    ),
    "form_filed.html.j2": dict(
        FORM_COMMON, rows=_ROWS, report=SimpleNamespace(version=1, late=True), adhoc=False
    ),
    "form_nothing_due.html.j2": dict(form_name=HOSTILE),
    "form_full_text.html.j2": dict(label=HOSTILE, text=HOSTILE),
    "my_reports.html.j2": dict(
        owed=[SimpleNamespace(form_key="f", period_key="k", due_at=datetime.now(UTC))],
        latest=[
            SimpleNamespace(
                form_key="f", period_key="p", filed_at=datetime.now(UTC), late=True, version=2
            )
        ],
        forms={"f": HOSTILE},
        periods={"k": HOSTILE, "p": HOSTILE},
        tz=UTC,
    ),
    **CHANNEL_CONTEXTS,
    **FEEDBACK_CONTEXTS,
    **FILE_CONTEXTS,
    **ACTIVITY_CONTEXTS,
    **BUDGET_CONTEXTS,
    **KPI_CONTEXTS,
    **TASK_CONTEXTS,
    **APPROVAL_CONTEXTS,
    **FOLLOWUP_CONTEXTS,
    **DIGEST_CONTEXTS,
    "activity_results_ask.html.j2": dict(plan=SimpleNamespace(title=HOSTILE)),
    "team_today.html.j2": dict(
        sections=[
            (HOSTILE, HOSTILE, [SimpleNamespace(name=HOSTILE, state="filed", at=datetime.now(UTC))])
        ],
        tasks=SimpleNamespace(open=3, overdue=2, late=[(HOSTILE, HOSTILE, datetime.now(UTC))]),
        tz=UTC,
    ),
    "digest_tasks.html.j2": dict(
        tasks=SimpleNamespace(open=3, overdue=2, late=[(HOSTILE, HOSTILE, datetime.now(UTC))]),
        tz=UTC,
        day_label=HOSTILE,
    ),
    "reminder.html.j2": dict(
        step="gentle", form_name=HOSTILE, period=HOSTILE, command="daily", due="x", closes="y"
    ),
    "escalation.html.j2": dict(rows=[(HOSTILE, HOSTILE, 2, HOSTILE)]),
    "approval_reminder.html.j2": dict(
        plans=[SimpleNamespace(id=1, title=HOSTILE, decide_by=datetime.now(UTC))],
        now=datetime.now(UTC),
        when=str,
    ),
    "leave_notice.html.j2": dict(name=HOSTILE, start=HOSTILE, end="x", deputy=HOSTILE, you=False),
    "leave_done.html.j2": dict(name=HOSTILE, start="a", end="b", deputy=HOSTILE),
    "leave_error.html.j2": dict(reason="bad_date", text=HOSTILE),
    "form_results_filed.html.j2": dict(plan=SimpleNamespace(title=HOSTILE)),
    "activity_review.html.j2": dict(
        plan=SimpleNamespace(id=1, title=HOSTILE),
        proposer=HOSTILE,
        budget="¥1.00",
        cost="¥2.00",
        over=True,
        summary=False,
        worked=HOSTILE,
        improvements=HOSTILE,
        effects=[(HOSTILE, HOSTILE, HOSTILE, "84%")],
    ),
    "form_plan_submitted.html.j2": dict(
        plan=SimpleNamespace(status="pending", title=HOSTILE, version=1)
    ),
    "report_announce.html.j2": dict(
        name=HOSTILE, form_name=HOSTILE, period=HOSTILE, version=2, late=True, rows=_ROWS
    ),
    "digest_problems.html.j2": dict(
        day_label=HOSTILE, rows=[(HOSTILE, HOSTILE, HOSTILE, HOSTILE), (HOSTILE, None, None, "x")]
    ),
}
NO_USER_INPUT = (
    set(CHANNEL_NO_INPUT)
    | set(FEEDBACK_NO_INPUT)
    | set(ACTIVITY_NO_INPUT)
    | set(KPI_NO_INPUT)
    | set(TASK_NO_INPUT)
    | set(APPROVAL_NO_INPUT)
    | set(FOLLOWUP_NO_INPUT)
    | {
        "edited_message.html.j2",
        "form_no_results.html.j2",
        "leave_list.html.j2",
        "form_other_form.html.j2",
        "form_cancelled.html.j2",
        "form_stale.html.j2",
        "join_rejected.html.j2",
        "refused.html.j2",
        "invite_choose_role.html.j2",
        "lang_choose.html.j2",
        "lang_set.html.j2",
        "help.html.j2",
        "cancel.html.j2",
        "unexpected_text.html.j2",
        "stale_button.html.j2",
        "group_added.html.j2",
        "error.html.j2",
        "error_saved.html.j2",
        "staff_error.html.j2",
    }
)


# Plain text written into an answer (escaped later, wherever it is shown), not Telegram HTML.
PLAIN_TEXT = {"feedback_week.txt.j2", "channel_period.txt.j2"}


def test_every_template_is_covered_here():
    names = {p.name for p in TEMPLATES_DIR.glob("*.j2")}
    assert names == set(CONTEXTS) | NO_USER_INPUT | PLAIN_TEXT


def test_the_weekly_feedback_prefill_is_plain_text_kept_raw():
    item = SimpleNamespace(text=HOSTILE, count=3)
    summary = SimpleNamespace(
        total_items=1,
        total_mentions=3,
        by_category={"bug": 3},
        previous_by_category={},
        top=[item],
        channels=[(HOSTILE, 3)],
    )
    text = render("feedback_week.txt.j2", "zh", summary=summary, categories={"bug": "Bug"})
    assert HOSTILE in text and ESCAPED not in text  # escaped when shown, never twice


def test_the_channel_library_prefill_is_plain_text_kept_raw():
    regions = [(HOSTILE, 2, 1)]  # a label as configured (or a key no longer configured)
    text = render("channel_period.txt.j2", "zh", regions=regions, industries=regions, total=2,
                  covered=1, added=0, signed=0, live=0)  # fmt: skip
    assert HOSTILE in text and ESCAPED not in text  # escaped when shown, never twice


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_it_escapes_html(name, locale):
    text = render(name, locale, **CONTEXTS[name])
    assert ESCAPED in text
    assert HOSTILE not in text
    visible, _ = parse_html(text)  # what Telegram would accept, or HtmlParseError
    assert HOSTILE in visible and utf16_len(visible) <= 4096


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", sorted(NO_USER_INPUT))
def test_templates_without_user_input_are_valid_telegram_html(name, locale):
    context = {
        "reason": "unknown",
        "bad": True,
        "commands": [("help", "x")],
        "directors": True,
        "roles": ["director"],
        "dropped": True,
        "gone": True,
        "form_name": "F",
        "period": "2026-12",
        "budget": None,
        "reserved": "¥0.00",
        "used": "¥0.00",
        "left": None,
        "waiting": "¥0.00",
        "changed": True,
        "leaves": [],
    }
    visible, _ = parse_html(render(name, locale, **context))
    assert visible.strip()
