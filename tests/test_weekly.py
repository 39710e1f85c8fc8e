"""/weekly end to end: pre-filled from the week's feedback, filed, sent to directors and group."""

import time_machine
from sqlalchemy import select
from support import TEAM_GROUP, local

from bot.models import Metric, Report, Staff
from bot.services import feedback
from jobs.tick import tick

USER_DATA = """/weekly
New registrations this week: 1,240
Active users this week: 5,300
Retained users: 4,100
At-risk / churned users: 180
Users won back: 35
Actions taken and proposed: ticket to payments"""


async def _capture(sessions, person, week: str, texts: list[str]) -> None:
    async with sessions() as s, s.begin():
        author = await s.scalar(select(Staff).where(Staff.telegram_id == person.id))
        for text in texts:
            await feedback.record(s, author, text, week_key=week)


def q(person) -> str:
    return person.inbox[-1].plain


async def test_the_weekly_draft_is_pre_filled_from_the_weeks_feedback(app, sim, sessions, lina):
    await _capture(sessions, lina, "2026-W47", ["App crashes on login"])
    await _capture(sessions, lina, "2026-W48", [
        "App crashes on login", "app crashes on login!", "Please add a monthly bill PDF",
        "Too expensive for small shops",
    ])  # fmt: skip
    with time_machine.travel(local("2026-11-27 15:00"), tick=True):  # Friday
        await tick(app.bot_data, app.bot)
        await lina.send(USER_DATA)
        review = q(lina)
        # The card shows the start of the summary on one line; its button sends all of it.
        await lina.press(lina.inbox[-1], "📄 This week's user feedback in full")
        whole = q(lina)

    assert "This week's user feedback: 3 items this week, raised by 4 users in all" in review
    assert "Check your report, then submit." in review
    assert "up 1 on last week" in whole  # bugs: 2 mentions now, 1 the week before
    assert "1. App crashes on login (2 users)" in whole


async def test_a_filed_weekly_goes_to_the_directors_and_the_group(
    app, sim, sessions, lina, director
):
    group_before = len(sim.group(id=TEAM_GROUP, title="运营部").messages)
    with time_machine.travel(local("2026-11-27 15:00"), tick=True):
        await tick(app.bot_data, app.bot)
        await lina.send(USER_DATA)
        await lina.press(lina.inbox[-1], "✅ Submit")

    assert "Filed on time" in q(lina)
    card = director.inbox[-1].plain
    assert "用户反馈周报" in card and "Li Na" in card and "1,240" in card
    group = sim.messages(TEAM_GROUP)
    assert len(group) == group_before + 1 and "用户反馈周报" in group[-1].plain
    async with sessions() as s:
        metrics = {m.field_key: int(m.value) for m in await s.scalars(select(Metric))}
        report = await s.scalar(select(Report))
    assert metrics["new_registrations"] == 1240 and metrics["won_back"] == 35
    assert report.period_key == "2026-W48"


async def test_filing_the_weekly_twice_edits_it_and_says_so(app, sim, sessions, lina, director):
    with time_machine.travel(local("2026-11-27 15:00"), tick=True):
        await tick(app.bot_data, app.bot)
        await lina.send(USER_DATA)
        await lina.press(lina.inbox[-1], "✅ Submit")
        await lina.send(USER_DATA.replace("1,240", "1,300"))
        await lina.press(lina.inbox[-1], "✅ Submit")
    assert "version 2" in q(lina)
    assert "版本 2" in director.inbox[-1].plain and "1,300" in director.inbox[-1].plain
    async with sessions() as s:
        assert len(list(await s.scalars(select(Report)))) == 1


async def test_the_team_can_keep_the_weekly_out_of_the_group(app, sim, sessions, lina):
    weekly = app.bot_data.settings.reports.form("weekly_feedback")
    private = weekly.model_copy(update={"announce": ("directors",)})
    reports_cfg = app.bot_data.settings.reports.model_copy(
        update={"forms": (app.bot_data.settings.reports.form("daily_channel"), private)}
    )
    app.bot_data.settings = app.bot_data.settings.model_copy(update={"reports": reports_cfg})
    before = len(sim.messages(TEAM_GROUP))
    with time_machine.travel(local("2026-11-27 15:00"), tick=True):
        await tick(app.bot_data, app.bot)
        await lina.send(USER_DATA)
        await lina.press(lina.inbox[-1], "✅ Submit")
    assert len(sim.messages(TEAM_GROUP)) == before


async def test_step_by_step_the_pre_filled_summary_is_kept_with_one_press(
    app, sim, sessions, lina, director
):
    await _capture(sessions, lina, "2026-W48", ["App crashes on login", "app crashes on login!"])
    with time_machine.travel(local("2026-11-27 15:00"), tick=True):
        await tick(app.bot_data, app.bot)
        await lina.send("/weekly")
        for number in ("1240", "5300", "4100", "180", "35"):
            await lina.send(number)
        question = lina.inbox[-1]
        assert "Current answer" in question.plain
        await lina.press(question, "✔ Keep the current answer")
        assert "Actions taken and actions proposed" in q(lina)  # on to the next question
        await lina.send("ticket to payments")
        await lina.press(lina.inbox[-1], "✅ Submit")

    assert "Filed on time" in q(lina)
    # Kept as the week's figures, so the Chinese director reads the generated part in Chinese.
    assert "本周共 1 条反馈，2 位用户提出" in director.inbox[-1].plain
