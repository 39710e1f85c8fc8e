"""The Telegram simulator: a real PTB Bot must see Telegram's answers, successes and errors."""

import asyncio
import json

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.simulator import ApiError, SimulatorError, TelegramSimulator
from bot.simulator.html import HtmlParseError, parse_html, strip_html

TOKEN = "123456:TEST"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    + (640).to_bytes(4, "big")
    + (480).to_bytes(4, "big")
    + b"\x08\x02\x00\x00\x00\x00\x00\x00\x00"
)


@pytest.fixture
async def sim():
    async with TelegramSimulator(
        token=TOKEN, bot_id=123456, bot_username="opsbot_test_bot", bot_name="OpsBot"
    ) as simulator:
        yield simulator


@pytest.fixture
async def bot(sim):
    async with Bot(TOKEN, base_url=sim.base_url, base_file_url=sim.base_file_url) as ptb_bot:
        yield ptb_bot


@pytest.fixture
async def wang(sim):
    user = sim.user(
        id=1001, first_name="王", last_name="伟", username="wangwei", language_code="zh"
    )
    await user.send("/start")
    return user


@pytest.fixture
async def team(sim, wang):
    group = sim.group(id=-1001, title="运营部", type="group")
    await sim.add_bot_to_group(group, by=wang)
    return group


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


async def telegram_says(sim: TelegramSimulator, call) -> str:
    """Await a bot call that must fail; return Telegram's exact description."""
    with pytest.raises(TelegramError):
        await call
    return sim.calls[-1].error_description


# Telegram HTML


def test_it_turns_html_into_text_and_utf16_entities():
    text, entities = parse_html("😀 <b>粗体</b> <a href='https://e.com/?a=1&amp;b=2'>链接</a>")
    assert text == "😀 粗体 链接"
    assert entities == [
        {"offset": 3, "length": 2, "type": "bold"},
        {"offset": 6, "length": 2, "type": "text_link", "url": "https://e.com/?a=1&b=2"},
    ]


def test_it_unescapes_entities_and_keeps_a_bare_ampersand_like_telegram():
    assert parse_html("&lt;b&gt; &amp; &quot;x&quot; &#20013; &#x41; AT&T")[0] == (
        '<b> & "x" 中 A AT&T'
    )


def test_it_keeps_a_language_only_for_code_inside_pre():
    assert parse_html('<pre><code class="language-python">x = 1</code></pre>')[1] == [
        {"offset": 0, "length": 5, "type": "pre", "language": "python"}
    ]
    assert parse_html('<code class="language-python">x</code>')[1] == [
        {"offset": 0, "length": 1, "type": "code"}
    ]


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("统计<div>x</div>", 'Unsupported start tag "div" at byte offset 6'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<br/>", 'Unsupported start tag "br/" at byte offset 0'),
        ("<b>粗体", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<tg-emoji emoji-id="x">👍</tg-emoji>', "Invalid custom emoji identifier specified"),
    ],
)
def test_it_rejects_what_telegram_rejects_with_its_words(html, error):
    with pytest.raises(HtmlParseError) as caught:
        parse_html(html)
    assert str(caught.value) == error


def test_it_accepts_every_telegram_tag():
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><tg-spoiler>p</tg-spoiler>"
        '<span class="tg-spoiler">q</span><a href="tg://user?id=1">m</a><code>c</code>'
        "<pre>p</pre><blockquote>q</blockquote><blockquote expandable>x</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    text, entities = parse_html(html)
    assert text == "bsieunskdpqmcpqx👍"
    assert len(entities) == 17


def test_it_strips_tags_for_display():
    assert strip_html("<b>A</b> &amp; B") == "A & B"


# The Bot API as PTB sees it


async def test_it_serves_a_real_ptb_bot(sim, bot, wang):
    assert (await bot.get_me()).username == "opsbot_test_bot"
    sent = await bot.send_message(
        wang.id,
        "<b>日报</b> 已提交 &amp; 通过",
        parse_mode="HTML",
        reply_markup=keyboard([("批准", "act:v1:ap:42:3"), ("驳回", "act:v1:rj:42:3")]),
    )
    assert sent.text == "日报 已提交 & 通过"
    assert sent.from_user.is_bot
    assert sent.entities[0].type == "bold"

    async def answer(update: dict) -> None:
        query = update["callback_query"]
        await bot.answer_callback_query(query["id"], text="已批准", show_alert=True)
        await bot.edit_message_text(
            "<b>日报</b> ✅",
            query["message"]["chat"]["id"],
            query["message"]["message_id"],
            parse_mode="HTML",
        )

    sim.on_update = answer
    result = await wang.press(wang.last, "批准")

    assert (result.text, result.show_alert) == ("已批准", True)
    assert wang.last.text == "<b>日报</b> ✅"
    assert wang.last.plain == "日报 ✅"
    assert wang.last.buttons == []  # Telegram drops the keyboard an edit does not repeat
    assert wang.last.edited_count == 1
    with pytest.raises(BadRequest, match="Can't parse entities: unsupported start tag"):
        await bot.send_message(wang.id, "<div>x</div>", parse_mode="HTML")
    assert sim.calls[-1].error_description == (
        'Bad Request: can\'t parse entities: Unsupported start tag "div" at byte offset 0'
    )


async def test_it_returns_none_when_the_bot_does_not_answer_a_press(sim, bot, wang):
    await bot.send_message(wang.id, "卡片", reply_markup=keyboard([("批准", "ap:1")]))
    seen = []

    async def record(update: dict) -> None:
        seen.append(update)

    sim.on_update = record
    assert await wang.press(wang.last, "ap:1") is None
    assert seen[0]["callback_query"]["data"] == "ap:1"
    assert seen[0]["callback_query"]["message"]["reply_markup"]["inline_keyboard"]


async def test_it_refuses_a_press_on_a_button_the_keyboard_no_longer_has(sim, bot, wang):
    card = await bot.send_message(wang.id, "卡片", reply_markup=keyboard([("批准", "ap:1")]))
    await bot.edit_message_reply_markup(wang.id, card.message_id, reply_markup=None)
    with pytest.raises(SimulatorError, match="no button"):
        await wang.press(wang.last, "批准")


async def test_it_delivers_forged_callback_data(sim, bot, wang):
    card = await bot.send_message(wang.id, "卡片")
    seen = []

    async def record(update: dict) -> None:
        seen.append(update["callback_query"])

    sim.on_update = record
    await wang.press_data(card.message_id, wang.id, "act:v1:ap:999:1")
    await wang.press_data(4242, wang.id, "gone")
    assert seen[0]["data"] == "act:v1:ap:999:1"
    assert seen[1]["message"]["date"] == 0  # PTB reads this as an InaccessibleMessage
    assert Update.de_json({"update_id": 1, "callback_query": seen[1]}, None).callback_query


async def test_it_rejects_a_second_or_unknown_callback_answer(sim, bot, wang):
    await bot.send_message(wang.id, "卡片", reply_markup=keyboard([("批准", "ap:1")]))
    errors = []

    async def answer_twice(update: dict) -> None:
        await bot.answer_callback_query(update["callback_query"]["id"])
        errors.append(
            await telegram_says(sim, bot.answer_callback_query(update["callback_query"]["id"]))
        )

    sim.on_update = answer_twice
    await wang.press(wang.last, "批准")
    unknown = await telegram_says(sim, bot.answer_callback_query("12345"))
    expected = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    assert errors == [expected]
    assert unknown == expected


async def test_it_enforces_the_text_limit_in_utf16_units_after_parsing(sim, bot, wang):
    await bot.send_message(wang.id, "<b>" + "字" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(wang.id, "😀" * 2048)
    assert await telegram_says(sim, bot.send_message(wang.id, "😀" * 2048 + "x")) == (
        "Bad Request: message is too long"
    )
    assert await telegram_says(sim, bot.send_message(wang.id, "字" * 4097)) == (
        "Bad Request: message is too long"
    )


async def test_it_rejects_empty_text(sim, bot, wang):
    for text in ("<b></b>", "  \n "):
        said = await telegram_says(sim, bot.send_message(wang.id, text, parse_mode="HTML"))
        assert said == "Bad Request: message text is empty"


async def test_it_enforces_the_caption_limit(sim, bot, wang):
    await bot.send_photo(wang.id, PNG, caption="<i>" + "图" * 1024 + "</i>", parse_mode="HTML")
    said = await telegram_says(sim, bot.send_photo(wang.id, PNG, caption="图" * 1025))
    assert said == "Bad Request: message caption is too long"


async def test_it_checks_inline_keyboards_like_telegram(sim, bot, wang):
    await bot.send_message(wang.id, "ok", reply_markup=keyboard([("a", "x" * 64)]))
    too_long = keyboard([("a", "批" * 22)])  # 66 bytes in UTF-8
    assert await telegram_says(sim, bot.send_message(wang.id, "x", reply_markup=too_long)) == (
        "Bad Request: BUTTON_DATA_INVALID"
    )
    many = InlineKeyboardMarkup(
        [[InlineKeyboardButton(str(i), callback_data=str(i))] for i in range(101)]
    )
    assert await telegram_says(sim, bot.send_message(wang.id, "x", reply_markup=many)) == (
        "Bad Request: reply markup is too long"
    )
    bare = json.dumps({"inline_keyboard": [[{"text": "无动作"}]]})
    async with aiohttp.ClientSession() as http:
        form = {"chat_id": str(wang.id), "text": "x", "reply_markup": bare}
        async with http.post(f"{sim.base_url}{TOKEN}/sendMessage", data=form) as resp:
            said = (await resp.json())["description"]
    assert said == (
        "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard"
    )


async def test_it_refuses_an_edit_that_changes_nothing(sim, bot, wang):
    markup = keyboard([("批准", "ap:1")])
    card = await bot.send_message(wang.id, "<b>卡</b>", parse_mode="HTML", reply_markup=markup)
    said = await telegram_says(
        sim,
        bot.edit_message_text(
            "<strong>卡</strong>", wang.id, card.message_id, parse_mode="HTML", reply_markup=markup
        ),
    )
    assert said.startswith("Bad Request: message is not modified: specified new message content")
    said = await telegram_says(
        sim, bot.edit_message_reply_markup(wang.id, card.message_id, reply_markup=markup)
    )
    assert said.startswith("Bad Request: message is not modified")
    await bot.edit_message_text("<b>卡</b>", wang.id, card.message_id, parse_mode="HTML")
    assert wang.last.buttons == []


async def test_it_reports_missing_messages_to_edit_and_delete(sim, bot, wang):
    card = await bot.send_message(wang.id, "卡片")
    assert await bot.delete_message(wang.id, card.message_id)
    assert wang.inbox == []
    assert sim.message(wang.id, card.message_id).deleted
    assert await telegram_says(sim, bot.delete_message(wang.id, card.message_id)) == (
        "Bad Request: message to delete not found"
    )
    assert await telegram_says(sim, bot.edit_message_text("x", wang.id, 999)) == (
        "Bad Request: message to edit not found"
    )


async def test_it_knows_who_the_bot_may_write_to(sim, bot, wang):
    stranger = sim.user(id=2002, first_name="李")
    assert await telegram_says(sim, bot.send_message(999, "x")) == "Bad Request: chat not found"
    with pytest.raises(Forbidden):
        await bot.send_message(stranger.id, "x")
    assert sim.calls[-1].error_description == (
        "Forbidden: bot can't initiate conversation with a user"
    )
    await wang.block_bot()
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(wang.id, "x")
    assert sim.updates[-1]["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    await wang.send("/start")
    await bot.send_message(wang.id, "欢迎回来")
    assert wang.last.plain == "欢迎回来"


async def test_it_rejects_a_wrong_token_and_unknown_methods(sim, bot):
    with pytest.raises(InvalidToken):
        async with Bot("123456:WRONG", base_url=sim.base_url):
            pass
    assert (sim.calls[-1].error_code, sim.calls[-1].error_description) == (401, "Unauthorized")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.base_url}{TOKEN}/sendTelepathy") as resp,
    ):
        assert resp.status == 404
        assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_it_accepts_a_json_body(sim, wang):
    async with aiohttp.ClientSession() as http:
        body = {"chat_id": wang.id, "text": "<i>json</i>", "parse_mode": "HTML"}
        async with http.post(f"{sim.base_url}{TOKEN}/sendMessage", json=body) as resp:
            reply = await resp.json()
    assert reply["ok"]
    assert reply["result"]["entities"] == [{"offset": 0, "length": 4, "type": "italic"}]


async def test_it_keeps_uploaded_files_and_serves_them_back(sim, bot, wang):
    sent = await bot.send_photo(wang.id, PNG, caption="图表", filename="kpi.png")
    assert (sent.photo[-1].width, sent.photo[-1].height) == (640, 480)
    assert wang.last.photo.data == PNG
    assert wang.last.plain == "图表"
    file = await bot.get_file(sent.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == PNG
    doc = await bot.send_document(wang.id, b"PK\x03\x04xlsx", filename="report.xlsx")
    assert doc.document.file_name == "report.xlsx"
    assert wang.last.document.data == b"PK\x03\x04xlsx"
    said = await telegram_says(sim, bot.send_photo(wang.id, b"not an image"))
    assert said == "Bad Request: IMAGE_PROCESS_FAILED"


async def test_it_records_every_call(sim, bot, wang):
    await bot.send_chat_action(wang.id, "typing")
    await bot.set_chat_menu_button()
    assert [c.method for c in sim.calls[-2:]] == ["sendChatAction", "setChatMenuButton"]
    assert sim.calls_to("sendchataction")[0].params == {"chat_id": wang.id, "action": "typing"}


# Personas and groups


async def test_it_marks_commands_with_utf16_entities(sim):
    seen = []

    async def record(update: dict) -> None:
        seen.append(update["message"])

    sim.on_update = record
    user = sim.user(id=1001, first_name="王")
    await user.send("😀 /help@opsbot_test_bot now")
    await user.send("/start abc")
    assert seen[0]["entities"] == [{"type": "bot_command", "offset": 3, "length": 21}]
    assert seen[1]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert Update.de_json({"update_id": 1, "message": seen[1]}, None).message.text == "/start abc"


async def test_it_adds_the_bot_to_a_group_and_filters_by_privacy_mode(sim, bot, wang):
    seen = []

    async def record(update: dict) -> None:
        seen.append(update)

    sim.on_update = record
    group = sim.group(id=-1001, title="运营部")
    with pytest.raises(SimulatorError, match="add_bot_to_group"):
        await wang.send("/bind", chat=group)
    await sim.add_bot_to_group(group, by=wang)
    await wang.send("大家好", chat=group)
    await wang.send("/bind@opsbot_test_bot", chat=group)
    await wang.send("/bind@other_bot", chat=group)
    kinds = [next(k for k in u if k != "update_id") for u in seen]
    assert kinds == ["my_chat_member", "message", "message"]
    assert seen[1]["message"]["new_chat_members"][0]["id"] == 123456
    assert seen[2]["message"]["text"] == "/bind@opsbot_test_bot"
    await bot.send_message(group.id, "已绑定")
    assert group.messages[-1].plain == "已绑定"
    assert await bot.get_chat_member_count(group.id) == 2


async def test_it_forwards_with_an_origin(sim):
    seen = []

    async def record(update: dict) -> None:
        seen.append(update)

    sim.on_update = record
    wang, li = sim.user(id=1001, first_name="王"), sim.user(id=1002, first_name="李")
    await wang.forward("用户反馈：闪退", from_user=li)
    message = Update.de_json(seen[0], None).message
    assert message.forward_origin.sender_user.id == li.id


async def test_it_reports_chat_members_and_administrators(sim, bot, wang, team):
    li = sim.user(id=1002, first_name="李")
    team.set_status(li, "administrator")
    team.set_status(wang, "creator")
    assert (await bot.get_chat_member(team.id, li.id)).status == "administrator"
    assert (await bot.get_chat_member(team.id, 123456)).status == "member"
    admins = await bot.get_chat_administrators(team.id)
    assert {a.user.id for a in admins} == {wang.id, li.id}
    assert (await bot.get_chat(team.id)).title == "运营部"


async def test_it_forgets_groups_the_bot_left(sim, bot, team):
    assert await bot.leave_chat(team.id)
    assert sim.left_chats == {team.id}
    with pytest.raises(Forbidden, match="not a member of the group chat"):
        await bot.send_message(team.id, "x")


async def test_it_stores_commands_per_scope_and_language(sim, bot, wang, team):
    await bot.set_my_commands([BotCommand("help", "Help")])
    await bot.set_my_commands([BotCommand("daily", "日报")], scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands(
        [BotCommand("pending", "待审批")], scope=BotCommandScopeChat(wang.id), language_code="zh"
    )
    assert sim.commands == {
        "default": [("help", "Help")],
        "all_private_chats": [("daily", "日报")],
        f"chat:{wang.id}/zh": [("pending", "待审批")],
    }
    assert sim.menu(wang) == [("pending", "待审批")]
    assert sim.menu(sim.user(id=3003, first_name="赵", language_code="en")) == [("daily", "日报")]
    assert sim.menu(wang, team) == [("help", "Help")]
    mine = await bot.get_my_commands(scope=BotCommandScopeChat(wang.id), language_code="zh")
    assert [c.command for c in mine] == ["pending"]
    await bot.delete_my_commands(scope=BotCommandScopeChat(wang.id), language_code="zh")
    assert sim.menu(wang) == [("daily", "日报")]
    said = await telegram_says(sim, bot.set_my_commands([BotCommand("Daily", "x")]))
    assert said == "Bad Request: BOT_COMMAND_INVALID"


# Polling mode (opsbot demo)


async def test_it_serves_long_polling_with_offsets(sim, bot, wang):
    first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first] == ["/start"]
    assert await bot.get_updates(offset=first[-1].update_id + 1, timeout=0) == ()

    async def later() -> None:
        await asyncio.sleep(0.02)
        await wang.send("你好")

    task = asyncio.create_task(later())
    woke = await bot.get_updates(offset=first[-1].update_id + 1, timeout=5)
    await task
    assert [u.message.text for u in woke] == ["你好"]


async def test_it_drops_update_types_the_bot_did_not_ask_for(sim, bot, wang):
    await wang.block_bot()
    updates = await bot.get_updates(timeout=0, allowed_updates=["message"])
    assert [u.message.text for u in updates] == ["/start"]


async def test_it_runs_a_ptb_application_with_its_real_updater(sim, wang):
    app = Application.builder().token(TOKEN).base_url(sim.base_url).build()

    async def start(update: Update, context) -> None:
        await update.message.reply_html(f"<b>欢迎</b> {update.effective_user.first_name}")

    async def approve(update: Update, context) -> None:
        await update.callback_query.answer("已批准")
        await update.callback_query.edit_message_text("已批准 ✅")

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(approve))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await sim.wait_idle()
        assert wang.last.plain == "欢迎 王"
        await app.bot.send_message(wang.id, "卡片", reply_markup=keyboard([("批准", "ap:1")]))
        answer = await wang.press(wang.last, "批准")
        await app.updater.stop()
        await app.stop()
    assert answer.text == "已批准"
    assert wang.last.plain == "已批准 ✅"


async def test_it_runs_a_ptb_application_in_push_mode(sim, wang):
    app = Application.builder().token(TOKEN).base_url(sim.base_url).updater(None).build()

    async def daily(update: Update, context) -> None:
        await update.message.reply_text("请填写今日渠道拓展数据")

    app.add_handler(CommandHandler("daily", daily))
    async with app:
        sim.on_update = lambda update: app.process_update(Update.de_json(update, app.bot))
        await wang.send("/daily")
        assert (
            wang.last.plain == "请填写今日渠道拓展数据"
        )  # no waiting: handled before send returned


# Misbehaviour Telegram adds under load and over time


# PTB warns that RetryAfter.retry_after will become a timedelta; not the simulator's concern.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_it_applies_flood_limits_when_switched_on(sim, bot, wang, team):
    now = [0.0]
    sim.monotonic = lambda: now[0]
    sim.flood_limits = True
    for _ in range(3):
        await bot.send_message(wang.id, "x")  # a short burst is fine
    with pytest.raises(RetryAfter):
        await bot.send_message(wang.id, "x")
    assert sim.calls[-1].error_code == 429
    assert sim.calls[-1].parameters == {"retry_after": 1}
    now[0] += 1.0
    await bot.send_message(wang.id, "x")
    for _ in range(20):
        await bot.send_message(team.id, "y")
        now[0] += 0.1
    with pytest.raises(RetryAfter):
        await bot.send_message(team.id, "y")
    assert (sim.delivered(wang.id), sim.refused(wang.id)) == (4, 1)
    assert (sim.delivered(team.id), sim.refused(team.id)) == (20, 1)
    sim.flood_limits = False
    await bot.send_message(team.id, "y")


async def test_it_migrates_a_group_to_a_supergroup(sim, bot, wang, team):
    seen = []

    async def record(update: dict) -> None:
        seen.append(update["message"])

    sim.on_update = record
    supergroup = await sim.migrate_group(team)
    assert supergroup.type == "supergroup"
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(team.id, "日报汇总")
    assert caught.value.new_chat_id == supergroup.id
    assert seen[0]["migrate_to_chat_id"] == supergroup.id
    assert seen[1]["migrate_from_chat_id"] == team.id
    await bot.send_message(supergroup.id, "日报汇总")
    assert supergroup.last.plain == "日报汇总"
    with pytest.raises(SimulatorError, match="supergroup"):
        await wang.send("/kpi", chat=team)


async def test_it_parses_ptb_form_encoding(sim, bot, wang):
    await bot.send_message(wang.id, "123", reply_markup=keyboard([("a", "1")]))
    params = sim.calls_to("sendMessage")[-1].params
    assert params["text"] == "123"  # a numeric text stays a string
    assert params["reply_markup"] == {"inline_keyboard": [[{"text": "a", "callback_data": "1"}]]}
    assert json.dumps(params)


async def test_intercept_answers_a_method_in_its_block_and_then_as_before(sim, bot, wang):
    seen = []

    async def second_one_fails(params: dict, files: dict, real) -> dict:
        seen.append(params["text"])
        if len(seen) == 2:
            raise ApiError(400, "Bad Request: not this one")
        return await real(params, files)

    with sim.intercept("sendMessage", second_one_fails):
        await bot.send_message(wang.id, "一")
        with pytest.raises(BadRequest, match=r"(?i)not this one"):
            await bot.send_message(wang.id, "二")
    await bot.send_message(wang.id, "三")

    assert seen == ["一", "二"]  # the third was the simulator's own again
    assert [m.plain for m in wang.inbox][-2:] == ["一", "三"]
    assert [c.ok for c in sim.calls_to("sendMessage")][-3:] == [True, False, True]
    with pytest.raises(ValueError, match="sendTelepathy"), sim.intercept("sendTelepathy", None):
        pass
