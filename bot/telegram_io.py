"""The outbox's Telegram transport: turns a Telegram-free payload into one Bot API call."""

import base64
import warnings

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.models import Outbox
from bot.outbox import SendResult


def keyboard(rows: list[list[list[str]]] | None) -> InlineKeyboardMarkup | None:
    """[[label, data]] rows to an inline keyboard; data starting with http is a URL button."""
    if not rows:
        return None
    return InlineKeyboardMarkup([[_button(label, data) for label, data in row] for row in rows])


def _button(label: str, data: str) -> InlineKeyboardButton:
    if data.startswith(("https://", "http://", "tg://")):
        return InlineKeyboardButton(label, url=data)
    return InlineKeyboardButton(label, callback_data=data)


class TelegramTransport:
    """Sends outbox rows with a PTB Bot (which applies the AIORateLimiter)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, row: Outbox, target_message_id: int | None) -> SendResult:
        try:
            return await self._call(row, target_message_id)
        except RetryAfter as exc:
            return SendResult(error=str(exc), retry_after=_retry_seconds(exc))
        except ChatMigrated as exc:
            return SendResult(error=f"migrated to {exc.new_chat_id}", migrate_to=exc.new_chat_id)
        except Forbidden as exc:  # blocked by the user, kicked from the group
            return SendResult(error=str(exc), permanent=True, unreachable=True)
        except BadRequest as exc:
            return _bad_request(exc, target_message_id)
        except (TimedOut, NetworkError) as exc:
            return SendResult(error=str(exc))

    async def _call(self, row: Outbox, target: int | None) -> SendResult:
        p = row.payload
        markup = keyboard(p.get("buttons"))
        if row.method == "sendMessage":
            msg = await self.bot.send_message(
                row.chat_id, p["text"], parse_mode=ParseMode.HTML, reply_markup=markup
            )
            return SendResult(message_id=msg.message_id)
        if row.method == "sendPhoto":
            photo = InputFile(base64.b64decode(p["photo_b64"]), filename=p.get("filename"))
            msg = await self.bot.send_photo(
                row.chat_id, photo, caption=p["text"] or None, parse_mode=ParseMode.HTML
            )
            return SendResult(message_id=msg.message_id)
        if row.method == "editMessageText":
            if target is None:
                return SendResult(error="the message to edit was never sent", permanent=True)
            await self.bot.edit_message_text(
                p["text"],
                chat_id=row.chat_id,
                message_id=target,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
            return SendResult(message_id=target)
        if row.method == "setMyCommands":
            commands = [BotCommand(c, d) for c, d in p["commands"]]
            await self.bot.set_my_commands(commands, scope=BotCommandScopeChat(row.chat_id))
            return SendResult()
        return SendResult(error=f"unknown outbox method {row.method}", permanent=True)


def _bad_request(exc: BadRequest, target_message_id: int | None) -> SendResult:
    text = str(exc).lower()
    if "message is not modified" in text:
        return SendResult(message_id=target_message_id)
    if "chat not found" in text:
        return SendResult(error=str(exc), permanent=True, unreachable=True)
    return SendResult(error=str(exc), permanent=True)


def _retry_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns that retry_after becomes a timedelta; accept both without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
