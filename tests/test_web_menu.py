"""Buttons that open the dashboard (issue 19): each person's menu button, 📊 under /team and the
digests — a Mini App button in private chats, a t.me link in the group, as Telegram requires."""

import pytest
import time_machine
from sqlalchemy import event
from support import TEAM_GROUP, local, make_staff
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MenuButtonWebApp, WebAppInfo
from telegram.error import BadRequest

from bot.config import WebSettings
from bot.services import staff as staff_service
from jobs.tick import tick

URL = "https://ops.example.cn/app"

# Which menu buttons are missing is asked in SQL (a key built by concatenation): both databases.
pytestmark = pytest.mark.databases


@pytest.fixture
def settings(settings):
    """conftest's settings with the dashboard's public address."""
    return settings.model_copy(update={"web": WebSettings(public_url=URL)})


def web_app_buttons(message) -> list[dict]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [b for row in rows for b in row if "web_app" in b]


async def test_everyone_gets_the_menu_button_once_in_their_language(
    app, sim, sessions, director, user_ops_manager
):
    await make_staff(sessions, user_ops_manager, "user_ops")
    await director.send("/start")
    await user_ops_manager.send("/start")
    await tick(app.bot_data, app.bot)
    assert sim.menu_buttons[director.id] == {
        "type": "web_app", "text": "📊 看板", "web_app": {"url": URL}
    }  # fmt: skip
    assert sim.menu_buttons[user_ops_manager.id]["text"] == "📊 Dashboard"
    calls = len(sim.calls_to("setChatMenuButton"))
    await tick(app.bot_data, app.bot)
    assert len(sim.calls_to("setChatMenuButton")) == calls  # sent once
    await director.send("/lang")
    await director.press(director.inbox[-1], "English")
    await tick(app.bot_data, app.bot)
    assert sim.menu_buttons[director.id]["text"] == "📊 Dashboard"  # again, in their language
    async with sessions() as s, s.begin():
        lina = await staff_service.by_telegram_id(s, user_ops_manager.id)
        lina.active = False
    await tick(app.bot_data, app.bot)
    assert sim.menu_buttons[user_ops_manager.id] == {"type": "default"}


async def test_a_newcomer_gets_the_button_at_the_next_tick_and_a_quiet_tick_reads_nobody(
    app, sim, engine, sessions, director, user_ops_manager
):
    await director.send("/start")
    await tick(app.bot_data, app.bot)
    await tick(app.bot_data, app.bot)  # nothing new
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await tick(app.bot_data, app.bot)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert not [s for s in seen if "FROM staff" in s and "NOT (EXISTS" in s]  # no anti-join
    await make_staff(sessions, user_ops_manager, "user_ops")  # as `opsbot staff add` does
    await tick(app.bot_data, app.bot)
    assert sim.menu_buttons[user_ops_manager.id]["text"] == "📊 Dashboard"


async def test_no_public_url_no_buttons(app, sim, director, settings):
    app.bot_data.settings = settings.model_copy(update={"web": WebSettings()})
    await director.send("/start")
    await tick(app.bot_data, app.bot)
    await director.send("/team")
    assert sim.calls_to("setChatMenuButton") == []
    assert web_app_buttons(director.inbox[-1]) == []


async def test_team_has_a_dashboard_button(app, director):
    await director.send("/start")
    await director.send("/team")
    assert web_app_buttons(director.inbox[-1]) == [
        {"text": "📊 看板", "web_app": {"url": URL}}
    ]  # fmt: skip


async def test_the_group_digest_links_to_the_dashboard_and_directors_get_the_app(
    app, sim, sessions, director
):
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await director.send("/start")
        group = sim.group(id=TEAM_GROUP, title="运营部")
        await sim.add_bot_to_group(group, by=director)
        await director.send("/bind", chat=group)
    with time_machine.travel(local("2026-11-26 18:31"), tick=True):
        await tick(app.bot_data, app.bot)
    digest = next(m for m in sim.messages(TEAM_GROUP) if m.reply_markup)
    rows = digest.reply_markup["inline_keyboard"]
    assert rows[-1] == [
        {"text": "📊 看板", "url": "https://t.me/opsbot_test_bot?startapp=dashboard"}
    ]
    assert web_app_buttons(digest) == []


async def test_the_simulator_refuses_what_telegram_refuses(app, sim, director):
    await director.send("/start")
    group = sim.group(id=TEAM_GROUP, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    app_button = InlineKeyboardMarkup([[InlineKeyboardButton("📊", web_app=WebAppInfo(URL))]])
    with pytest.raises(BadRequest, match="Button_type_invalid"):
        await app.bot.send_message(TEAM_GROUP, "看板", reply_markup=app_button)
    plain_http = InlineKeyboardMarkup(
        [[InlineKeyboardButton("📊", web_app=WebAppInfo("http://ops.example.cn/app"))]]
    )
    with pytest.raises(BadRequest, match=r"(?i)only https links are allowed"):
        await app.bot.send_message(director.id, "看板", reply_markup=plain_http)
    with pytest.raises(BadRequest, match="Invalid chat_id"):
        await app.bot.set_chat_menu_button(TEAM_GROUP, MenuButtonWebApp("📊", WebAppInfo(URL)))
    with pytest.raises(BadRequest, match=r"(?i)only https links are allowed"):
        await app.bot.set_chat_menu_button(
            director.id, MenuButtonWebApp("📊", WebAppInfo("http://x.cn"))
        )
    await app.bot.send_message(director.id, "看板", reply_markup=app_button)  # private: fine
