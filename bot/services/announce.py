"""Sending a filed report to the directors (compact: answered questions only) and the team
group, through the outbox."""

from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.fields import EMPTY, FieldContext
from bot.forms.spec import FormSpec, ReportsConfig
from bot.forms.summary import answer_items, full_text_buttons, period_label
from bot.models import Report, Staff
from bot.outbox import enqueue
from bot.render import render
from bot.services import staff as staff_service
from bot.services import team

# Telegram allows 4,096 characters; a long answer is clipped on the announcement (the filer's own
# card and the database keep it whole).
VALUE_CLIP = 600


async def report_filed(
    session: AsyncSession,
    report: Report,
    form: FormSpec,
    filer: Staff,
    reports: ReportsConfig,
    team_locale: str,
) -> int:
    """Queue the report for everyone the form announces to; returns how many were queued."""
    recipients: list[tuple[int, str, bool]] = []  # (chat, locale, compact)
    if "directors" in form.announce:
        directors = await staff_service.directors(session)
        recipients += [(d.telegram_id, d.locale, True) for d in directors if d.id != filer.id]
    if "group" in form.announce:
        group = (await team.get(session)).group_chat_id
        if group is not None:
            recipients.append((group, team_locale, False))
    queued = 0
    for chat_id, locale, compact in recipients:
        text, buttons = _text(report, form, filer, reports, locale, compact=compact)
        queued += await enqueue(
            session, f"report:{report.id}:v{report.version}:{chat_id}", chat_id, text, buttons
        )
    return queued


def _text(
    report: Report,
    form: FormSpec,
    filer: Staff,
    reports: ReportsConfig,
    locale: str,
    *,
    compact: bool,
) -> tuple[str, list]:
    ctx = FieldContext(
        locale=locale,
        today=report.filed_at.date(),
        regions=reports.regions,
        industries=reports.industries,
    )
    items = answer_items(form, report.answers, ctx)
    rows = [(label, _clip(value)) for _, label, value in items]
    if compact:  # a director's card (decision 56): what was answered, one clipped line each
        rows = [(label, value) for label, value in rows if value.strip() not in ("", EMPTY)]
    text = render(
        "report_announce.html.j2",
        locale,
        name=filer.display_name,
        form_name=form.name.get(locale),
        period=period_label(report.period_key, locale),
        version=report.version,
        late=report.late,
        rows=rows,
    )
    return text, full_text_buttons("r", report.id, items, locale)


def _clip(value: str) -> str:
    return value if len(value) <= VALUE_CLIP else value[: VALUE_CLIP - 1] + "…"
