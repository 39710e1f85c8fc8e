"""What the bot writes reads in the reader's language; what a person typed stays as typed.

An English-speaking user-ops manager files the weekly summary the bot pre-filled from the
week's feedback: the Chinese director, the group (the team's language) and the workbook get
the generated part in their own language, and counts take the right plural form.
"""

from io import BytesIO

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import select
from support import TEAM_GROUP, local

from bot import clock
from bot.models import Report, Staff
from bot.services import feedback
from jobs.tick import tick

FRIDAY = "2026-11-27 15:00"  # in 2026-W48
FIGURES = """New registrations this week: 1,240
Active users this week: 5,300
Retained users: 4,100
At-risk / churned users: 180
Users won back: 35
Actions taken and proposed: ticket to payments"""
# What the bot generates in English; none of it may reach a Chinese reader.
ENGLISH = ("items this week", "item this week", "By category", "Top themes", "on last week")
ENGLISH_COUNTS = ("user)", "users)", "users in all", "user in all")


OLD_FIGURES = dict(
    new_registrations=1240,
    active_users=5300,
    retained_users=4100,
    at_risk_users=180,
    won_back=35,
    actions="ticket to payments",
)


async def _capture(sessions, person, week: str, texts: list[str]) -> None:
    async with sessions() as s, s.begin():
        author = await s.scalar(select(Staff).where(Staff.telegram_id == person.id))
        for text in texts:
            await feedback.record(s, author, text, week_key=week)


async def _file_weekly(app, lina, message: str = FIGURES) -> str:
    """Lina files the weekly summary in one message and submits; her review card's text."""
    with time_machine.travel(local(FRIDAY), tick=True):
        await tick(app.bot_data, app.bot)
        await lina.send("/weekly\n" + message)
        review = lina.inbox[-1].plain
        await lina.press(lina.inbox[-1], "✅ Submit")
    return review


def _group_post(sim) -> str:
    return sim.messages(TEAM_GROUP)[-1].plain


async def _whole(person, message) -> str:
    """What a card's "whole text" button sends `person` (the card shows one line of it)."""
    [label] = [b.text for row in message.buttons for b in row if b.text.startswith("📄")]
    await person.press(message, label)
    return person.inbox[-1].plain


def _speaks_chinese_only(text: str) -> None:
    for english in (*ENGLISH, *ENGLISH_COUNTS):
        assert english not in text, english


@pytest.fixture
async def week(sessions, lina):
    """W47: one crash report; W48: the crash three times, a wish once, a price complaint once."""
    await _capture(sessions, lina, "2026-W47", ["App crashes on login"])
    await _capture(sessions, lina, "2026-W48", [
        "App crashes on login", "app crashes on login!", "App crashes on login.",
        "Please add a monthly bill PDF", "Too expensive for small shops",
    ])  # fmt: skip


async def test_the_chinese_director_reads_the_english_filers_summary_in_chinese(
    app, sim, lina, week, director
):
    await _file_weekly(app, lina)

    card = director.inbox[-1].plain
    assert "提交人：Li Na" in card
    assert "本周用户反馈总结：本周共 3 条反馈，5 位用户提出。" in card  # one line on the card
    assert "ticket to payments" in card  # her own answer: as typed
    _speaks_chinese_only(card)
    whole = await _whole(director, director.inbox[-1])
    assert "- 故障：3（比上周多 2）" in whole and "- 价格：1（比上周多 1）" in whole
    assert "1. App crashes on login（3 位用户）" in whole  # the feedback itself: as typed
    _speaks_chinese_only(whole)


async def test_the_group_reads_it_in_the_teams_language(app, sim, lina, week, director):
    await _file_weekly(app, lina)

    post = _group_post(sim)
    assert "本周共 3 条反馈，5 位用户提出。" in post
    _speaks_chinese_only(post)
    whole = await _whole(director, sim.messages(TEAM_GROUP)[-1])  # sent to the presser, privately
    assert "热点：" in whole and sim.messages(TEAM_GROUP)[-1].plain == post
    _speaks_chinese_only(whole)


async def test_an_english_team_reads_it_in_english_while_the_director_reads_chinese(
    app, sim, lina, week, director
):
    team = app.bot_data.settings.team.model_copy(update={"locale": "en"})
    app.bot_data.settings = app.bot_data.settings.model_copy(update={"team": team})
    await _file_weekly(app, lina)

    assert "3 items this week, raised by 5 users in all." in _group_post(sim)
    assert "本周共 3 条反馈，5 位用户提出。" in director.inbox[-1].plain


async def test_the_english_filer_reads_her_own_summary_in_english(app, lina, week):
    review = await _file_weekly(app, lina)
    filed = lina.inbox[-1].plain
    whole = await _whole(lina, lina.inbox[-1])

    for card in (review, filed):
        assert "3 items this week, raised by 5 users in all." in card
    assert "- Bug: 3 (up 2 on last week)" in whole
    assert "1. App crashes on login (3 users)" in whole
    for text in (review, filed, whole):
        assert "本周共" not in text and "位用户" not in text
    assert "Check your report, then submit." in review and "Filed on time" in filed


async def test_one_item_and_one_user_are_singular(app, sim, sessions, lina, director):
    await _capture(sessions, lina, "2026-W48", ["Too expensive for small shops"])
    review = await _file_weekly(app, lina)

    assert "1 item this week, raised by 1 user in all." in review
    assert "1. Too expensive for small shops (1 user)" in await _whole(lina, lina.inbox[-1])
    assert "本周共 1 条反馈，1 位用户提出。" in director.inbox[-1].plain
    assert "（1 位用户）" in await _whole(director, sim.messages(TEAM_GROUP)[-1])


async def test_a_summary_the_filer_rewrote_is_hers_and_stays_as_typed(
    app, sim, lina, week, director
):
    await _file_weekly(
        app, lina, FIGURES + "\nThis week's user feedback: Mostly login crashes, see tickets"
    )

    for card in (director.inbox[-1].plain, _group_post(sim)):
        assert "Mostly login crashes, see tickets" in card
        assert "本周共" not in card


async def test_a_summary_filed_as_text_before_still_shows_as_it_was_stored(
    app, sim, sessions, lina, director
):
    old_text = "2 items this week, raised by 3 users in all.\nTop themes:\n1. Slow bills (2 users)"
    with time_machine.travel(local(FRIDAY), tick=True):
        await tick(app.bot_data, app.bot)
        async with sessions() as s, s.begin():
            staff = await s.scalar(select(Staff).where(Staff.telegram_id == lina.id))
            s.add(
                Report(
                    staff_id=staff.id, form_key="weekly_feedback", period_key="2026-W48",
                    answers={**OLD_FIGURES, "feedback_summary": old_text},
                    fields={}, filed_at=clock.now(), updated_at=clock.now(),
                )
            )  # fmt: skip
        await lina.send("/weekly")  # opens the filed report for editing
        review = lina.inbox[-1].plain
        await lina.press(lina.inbox[-1], "✅ Submit")

    assert "Top themes: 1.…" in review  # the card's one line; the whole text as stored:
    assert "1. Slow bills (2 users)" in await _whole(lina, lina.inbox[-1])
    assert "1. Slow bills (2 users)" in await _whole(director, director.inbox[-1])


async def test_the_export_has_the_summary_in_the_workbooks_language(app, sim, lina, week, director):
    await _file_weekly(app, lina)
    with time_machine.travel(local("2026-12-01 10:00"), tick=True):
        await director.send("/export 2026-11")
    book = load_workbook(BytesIO(director.inbox[-1].document.data))
    weekly = next(sheet for sheet in book.worksheets if sheet.title == "用户反馈周报")
    header, filed = ([c.value for c in row] for row in weekly.iter_rows(max_row=2))
    summary = filed[header.index("本周用户反馈总结")]
    assert summary.startswith("本周共 3 条反馈，5 位用户提出。")
    assert "1. App crashes on login（3 位用户）" in summary
    _speaks_chinese_only(summary)
