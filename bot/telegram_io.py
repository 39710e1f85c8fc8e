"""The outbox's Telegram transport: turns a Telegram-free payload into one Bot API call."""

import base64

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InputFile,
    InputMediaDocument,
    InputMediaPhoto,
    MenuButtonDefault,
    MenuButtonWebApp,
    WebAppInfo,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.botapi import HTML, post
from bot.models import Outbox
from bot.pacing import NO_WAIT, ChatBusy, ChatPacer, retry_seconds
from bot.sender import SendResult
from bot.web.links import WEB_APP


def keyboard(rows: list[list[list[str]]] | None) -> dict | None:
    """[[label, data]] rows to an inline keyboard as the Bot API takes it; data starting with
    http is a URL button. A dict, not PTB's InlineKeyboardMarkup: built and serialised again
    for every message, those objects cost more than the JSON they become (decision 67)."""
    if not rows:
        return None
    return {"inline_keyboard": [[_button(label, data) for label, data in row] for row in rows]}


def _button(label: str, data: str) -> dict:
    if data.startswith(WEB_APP):  # the dashboard, opened inside Telegram (private chats only)
        return {"text": label, "web_app": {"url": data.removeprefix(WEB_APP)}}
    if data.startswith(("https://", "http://", "tg://")):
        return {"text": label, "url": data}
    return {"text": label, "callback_data": data}


class TelegramTransport:
    """Sends outbox rows with a PTB Bot; its ChatPacer (if any) paces and holds each chat."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        limiter = getattr(bot, "rate_limiter", None)
        self.pacer = limiter if isinstance(limiter, ChatPacer) else None
        # The outbox never waits for a chat: a chat that is not ready is left for later.
        self._no_wait = {"rate_limit_args": NO_WAIT} if self.pacer else {}

    def ready_in(self, chat_id: int) -> float:
        """Seconds until `chat_id` may get a message (0 without a pacer: Telegram will say)."""
        return self.pacer.ready_in(chat_id) if self.pacer else 0.0

    def hold(self, chat_id: int, seconds: float) -> None:
        """Send nothing to `chat_id` for `seconds` (a hold another process recorded)."""
        if self.pacer:
            self.pacer.hold(chat_id, seconds)

    async def send(self, row: Outbox, target_message_id: int | None) -> SendResult:
        try:
            return await self._call(row, target_message_id)
        except ChatBusy as exc:
            seconds = retry_seconds(exc)
            return SendResult(error=f"paced: {seconds:g} s", retry_after=seconds, paced=True)
        except RetryAfter as exc:
            return SendResult(error=str(exc), retry_after=retry_seconds(exc))
        except ChatMigrated as exc:
            return SendResult(error=f"migrated to {exc.new_chat_id}", migrate_to=exc.new_chat_id)
        except Forbidden as exc:  # blocked by the user, kicked from the group
            return SendResult(error=str(exc), permanent=True, unreachable=True)
        except BadRequest as exc:
            return _bad_request(exc, target_message_id)
        except (TimedOut, NetworkError) as exc:
            return SendResult(error=str(exc))

    async def _call(self, row: Outbox, target: int | None) -> SendResult:
        p, paced = row.payload, self._no_wait
        markup = keyboard(p.get("buttons"))
        if row.method == "sendMessage":  # botapi.post: only the message id is read back
            params = {"chat_id": row.chat_id, "text": p["text"], "parse_mode": HTML,
                      "reply_markup": markup}  # fmt: skip
            sent = await post(self.bot, "sendMessage", params, **paced)
            return SendResult(message_id=sent["message_id"])
        if row.method == "sendPhoto":
            photo = p.get("file_id") or InputFile(
                base64.b64decode(p["photo_b64"]), filename=p.get("filename")
            )
            msg = await self.bot.send_photo(
                row.chat_id, photo, caption=p["text"] or None, parse_mode=ParseMode.HTML,
                reply_markup=markup, **paced,
            )  # fmt: skip
            return SendResult(message_id=msg.message_id)
        if row.method == "sendDocument":
            msg = await self.bot.send_document(
                row.chat_id, p["file_id"], caption=p["text"] or None, parse_mode=ParseMode.HTML,
                reply_markup=markup, **paced,
            )  # fmt: skip
            return SendResult(message_id=msg.message_id)
        if row.method == "sendMediaGroup":
            media = [_input_media(item) for item in p["media"]]
            sent = await self.bot.send_media_group(row.chat_id, media, **paced)
            return SendResult(message_id=sent[0].message_id)
        if row.method == "editMessageCaption":
            if target is None:
                return SendResult(error="the message to edit was never sent", permanent=True)
            await self.bot.edit_message_caption(
                chat_id=row.chat_id, message_id=target, caption=p["text"],
                parse_mode=ParseMode.HTML, reply_markup=markup, **paced,
            )  # fmt: skip
            return SendResult(message_id=target)
        if row.method == "editMessageText":
            if target is None:
                return SendResult(error="the message to edit was never sent", permanent=True)
            params = {"chat_id": row.chat_id, "message_id": target, "text": p["text"],
                      "parse_mode": HTML, "reply_markup": markup}  # fmt: skip
            await post(self.bot, "editMessageText", params, **paced)
            return SendResult(message_id=target)
        if row.method == "setChatMenuButton":  # the dashboard's menu button (decision 66)
            button = (
                MenuButtonWebApp(p["text"], WebAppInfo(p["url"]))
                if p.get("url")
                else MenuButtonDefault()
            )
            await self.bot.set_chat_menu_button(chat_id=row.chat_id, menu_button=button)
            return SendResult()
        if row.method == "setMyCommands":
            commands = [BotCommand(c, d) for c, d in p["commands"]]
            await self.bot.set_my_commands(commands, scope=BotCommandScopeChat(row.chat_id))
            return SendResult()
        return SendResult(error=f"unknown outbox method {row.method}", permanent=True)


def _input_media(item: dict) -> InputMediaPhoto | InputMediaDocument:
    if item["type"] == "photo":
        return InputMediaPhoto(item["file_id"])
    return InputMediaDocument(item["file_id"])


def _bad_request(exc: BadRequest, target_message_id: int | None) -> SendResult:
    text = str(exc).lower()
    if "message is not modified" in text:
        return SendResult(message_id=target_message_id)
    if "chat not found" in text:
        return SendResult(error=str(exc), permanent=True, unreachable=True)
    return SendResult(error=str(exc), permanent=True)
