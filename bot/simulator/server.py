"""An in-process fake of the Telegram Bot API over HTTP, strict where Telegram is strict."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import socket
import struct
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.simulator.driver import Group, Persona, SimulatorError
from bot.simulator.html import HtmlParseError, parse_html, utf16_len
from bot.simulator.samples import png

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_BUTTONS = 100
MAX_UPLOAD = 50 * 1024 * 1024  # a bot's upload (api.telegram.org answers 413 above it)
MAX_PHOTO = 10 * 1024 * 1024  # a photo, from a bot or a user (TDLib's MAX_PHOTO_SIZE)
MAX_DOWNLOAD = 20 * 1024 * 1024  # what getFile serves to a bot
MAX_ALBUM = 10
# A Bot API method's answer: (params, files) -> the result Telegram would return.
Answer = Callable[[dict, dict], Awaitable[Any]]
# What `TelegramSimulator.intercept` takes: (params, files, the simulator's own answer).
Interceptor = Callable[[dict, dict, Answer], Awaitable[Any]]

# How PTB's form encoding must be read back: these are JSON-encoded, the rest are plain strings.
_JSON_FIELDS = {
    "reply_markup",
    "entities",
    "caption_entities",
    "scope",
    "commands",
    "allowed_updates",
    "link_preview_options",
    "reply_parameters",
    "menu_button",
    "media",
}
_INT_FIELDS = {
    "chat_id",
    "message_id",
    "offset",
    "limit",
    "user_id",
    "cache_time",
    "reply_to_message_id",
    "message_thread_id",
    "max_connections",
}
_FLOAT_FIELDS = {"timeout"}
_BOOL_FIELDS = {
    "show_alert",
    "disable_notification",
    "protect_content",
    "drop_pending_updates",
    "disable_web_page_preview",
    "allow_sending_without_reply",
    "has_spoiler",
    "disable_content_type_detection",
    "show_caption_above_media",
    "only_if_banned",
}
# Flood control counts these, per chat and overall, like Telegram does.
_SEND_METHODS = {"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup"}
_DEFAULT_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
    }
)
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "web_app",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_METHODS = (
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "deleteMessage",
    "answerCallbackQuery",
    "sendPhoto",
    "sendDocument",
    "sendMediaGroup",
    "editMessageMedia",
    "getFile",
    "setMyCommands",
    "deleteMyCommands",
    "getMyCommands",
    "getChat",
    "getChatMember",
    "getChatAdministrators",
    "getChatMemberCount",
    "leaveChat",
    "sendChatAction",
    "setChatMenuButton",
    "getChatMenuButton",
    "close",
    "logOut",
)


class ApiError(Exception):
    """A Bot API failure: HTTP status, Telegram's description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def bad_request(text: str, parameters: dict | None = None) -> ApiError:
    """A 400 error worded the way the Bot API words it."""
    return ApiError(400, f"Bad Request: {text}", parameters)


@dataclass(frozen=True)
class Button:
    """One inline keyboard button as the bot sent it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass
class SimFile:
    """A file the bot uploaded (or referenced by file_id or URL)."""

    name: str
    data: bytes
    mime_type: str | None = None
    file_id: str = ""
    file_unique_id: str = ""
    url: str | None = None
    kind: str = "document"  # photo or document: what Telegram stored it as
    smaller: list[SimFile] = field(default_factory=list)  # a photo's smaller sizes, smallest first

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)


@dataclass
class SimMessage:
    """A message in a simulated chat, sent by the bot or by a persona."""

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    from_id: int
    text: str | None = None  # what the sender sent: raw HTML for the bot's HTML messages
    plain: str = ""  # what the user sees: tags stripped, entities unescaped (text or caption)
    entities: list[dict] = field(default_factory=list)
    caption: str | None = None
    parse_mode: str | None = None
    reply_markup: dict | None = None
    photo: SimFile | None = None
    document: SimFile | None = None
    edited_count: int = 0
    edit_date: int | None = None
    deleted: bool = False
    history: list[str] = field(default_factory=list)  # earlier texts or captions, oldest first
    extra: dict = field(default_factory=dict)  # further Message fields (forward_origin, ...)

    @property
    def buttons(self) -> list[list[Button]]:
        """The inline keyboard currently under the message."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [
            [Button(b["text"], b.get("callback_data"), b.get("url")) for b in row] for row in rows
        ]

    @property
    def labels(self) -> list[str]:
        """Labels of the current inline buttons, row by row."""
        return [b.text for row in self.buttons for b in row]

    def button(self, label_or_data: str) -> Button | None:
        """The current button with this label or callback_data, if any."""
        for row in self.buttons:
            for b in row:
                if label_or_data in (b.text, b.callback_data):
                    return b
        return None


@dataclass
class CallbackAnswer:
    """What the bot passed to answerCallbackQuery."""

    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int = 0


@dataclass
class ApiCall:
    """One request the simulator received."""

    method: str
    params: dict
    ok: bool
    error_description: str | None = None
    error_code: int | None = None
    result: Any = None
    parameters: dict | None = None  # an error's extra fields: retry_after, migrate_to_chat_id


class FloodControl:
    """Telegram's send limits: ~1/s per private chat with bursts, 20/min per group, 30/s total."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.private_rate, self.private_burst = 1.0, 3
        self.group_limit, self.group_window = 20, 60.0
        self.global_limit, self.global_window = 30, 1.0
        self._buckets: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)
        self._group_sent: dict[int, deque[float]] = {}
        self._all_sent: deque[float] = deque()
        self._held: dict[int, float] = {}  # chat -> until when it was told to wait
        self.refusals = 0  # 429s answered
        self.inside_retry_after = 0  # sends tried before the chat's retry_after had passed

    def admit(self, chat_id: int, private: bool) -> int | None:
        """Record one message; return seconds to wait instead when it is over a limit."""
        now = self.clock()
        held = self._held.get(chat_id, now)
        if now < held:
            # Telegram escalates a bot that ignores retry_after; here it is counted for tests.
            self.inside_retry_after += 1
            retry: int | None = max(1, math.ceil(held - now))
        else:
            retry = self._take(chat_id, private, now)
            if retry is not None:
                self._held[chat_id] = now + retry
        if retry is not None:
            self.refusals += 1
        return retry

    def _take(self, chat_id: int, private: bool, now: float) -> int | None:
        wait = _window_wait(self._all_sent, now, self.global_limit, self.global_window)
        if private:
            tokens, at = self._buckets.get(chat_id, (float(self.private_burst), now))
            tokens = min(self.private_burst, tokens + (now - at) * self.private_rate)
            if tokens < 1:
                wait = max(wait, (1 - tokens) / self.private_rate)
        else:
            sent = self._group_sent.setdefault(chat_id, deque())
            wait = max(wait, _window_wait(sent, now, self.group_limit, self.group_window))
        if wait > 0:
            return max(1, math.ceil(wait))
        self._all_sent.append(now)
        if private:
            self._buckets[chat_id] = (tokens - 1, now)
        else:
            self._group_sent[chat_id].append(now)
        return None


def _window_wait(sent: deque[float], now: float, limit: int, window: float) -> float:
    while sent and sent[0] <= now - window:
        sent.popleft()
    return sent[0] + window - now if len(sent) >= limit else 0.0


UpdateCallback = Callable[[dict], Awaitable[None]]


class TelegramSimulator:
    """A fake Telegram Bot API server on 127.0.0.1 plus the chats and people around the bot."""

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_id: int | None = None,
        bot_username: str = "opsbot_test_bot",
        bot_name: str = "OpsBot",
        *,
        privacy_mode: bool = True,
    ) -> None:
        self.token = token
        self.bot_id = bot_id if bot_id is not None else int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.privacy_mode = privacy_mode
        self.on_update: UpdateCallback | None = None
        self.flood_limits = False
        self.clock: Callable[[], float] = time.time  # message dates
        self.monotonic: Callable[[], float] = time.monotonic  # flood limits and idleness
        self.flood = FloodControl(lambda: self.monotonic())
        self.calls: list[ApiCall] = []
        self.updates: list[dict] = []  # every update created, in order
        self.commands: dict[str, list[tuple[str, str]]] = {}
        self.left_chats: set[int] = set()
        self.errors: list[Exception] = []  # the simulator's own crashes, answered with 500
        self.webhook_url = ""
        self.users: dict[int, Persona] = {}
        # setChatMenuButton's buttons by private chat (None: the bot's default one)
        self.menu_buttons: dict[int | None, dict] = {}
        self.groups: dict[int, Group] = {}
        self._chats: dict[int, list[SimMessage]] = {}
        self._by_id: dict[tuple[int, int], SimMessage] = {}
        self._next_message_id: Counter[int] = Counter()
        self._files: dict[str, SimFile] = {}
        self._media_groups = 0
        self._queries: dict[str, CallbackAnswer | None] = {}
        self._queue: deque[dict] = deque()
        self._allowed: frozenset[str] = _DEFAULT_UPDATES
        self._update_id = 0
        self._fetched_upto = 0
        self._new_update = asyncio.Event()
        self._poller: object | None = None
        self._inflight = 0
        self._last_arrival = 0.0
        self._delivered: Counter[int] = Counter()
        self._refused: Counter[int] = Counter()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._closing = False
        self._methods: dict[str, tuple[str, Answer]] = {
            name.lower(): (name, getattr(self, "_api_" + _snake(name))) for name in _METHODS
        }

    # lifecycle

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a port the OS picks."""
        # Read a little past the upload limit so that an oversized file gets Telegram's 413.
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._closing = False

    async def stop(self) -> None:
        """Stop listening; waiting getUpdates calls return at once."""
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """Pass as Bot(base_url=...): PTB appends the token and the method."""
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        """Pass as Bot(base_file_url=...) so get_file() downloads from the simulator."""
        return f"http://127.0.0.1:{self._port}/file/bot"

    @property
    def bot_user(self) -> dict:
        """The bot as a Telegram User object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    # the world around the bot

    def user(
        self,
        id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> Persona:
        """Create (or return the existing) persona with this id."""
        if id not in self.users:
            self.users[id] = Persona(self, id, first_name, last_name, username, language_code)
        return self.users[id]

    def group(self, id: int, title: str, type: str = "group", username: str | None = None) -> Group:
        """Create (or return the existing) group with this id; the bot is not in it yet."""
        if id >= 0:
            raise ValueError("group chat ids are negative")
        if id not in self.groups:
            self.groups[id] = Group(self, id, title, type, username)
        return self.groups[id]

    async def add_bot_to_group(self, group: Group, by: Persona) -> None:
        """`by` adds the bot: a my_chat_member update, then the new_chat_members message."""
        group.members.setdefault(by.id, "member")
        old = group.bot_status
        group.bot_status = "member"
        self.left_chats.discard(group.id)
        await self.my_chat_member(group.chat_dict, by, old, "member")
        msg = self.store_user_message(by, group.id, None, {"new_chat_members": [self.bot_user]})
        await self.dispatch({"message": self.message_dict(msg)})

    async def remove_bot_from_group(self, group: Group, by: Persona) -> None:
        """`by` removes the bot from the group (my_chat_member member -> kicked)."""
        old, group.bot_status = group.bot_status, "kicked"
        await self.my_chat_member(group.chat_dict, by, old, "kicked")

    async def migrate_group(self, group: Group, by: Persona | None = None) -> Group:
        """Upgrade a basic group to a supergroup with a new id, as Telegram does."""
        if group.type != "group" or group.migrated_to is not None:
            raise SimulatorError(f"{group} is not a basic group")
        actor = by or next((self.users[u] for u in group.members if u in self.users), None)
        if actor is None:
            raise SimulatorError("migrate_group needs a member to perform the upgrade")
        new = Group(self, -(10**12) - abs(group.id), group.title, "supergroup")
        new.members = dict(group.members)
        new.bot_status = group.bot_status
        self.groups[new.id] = new
        group.migrated_to = new.id
        if new.bot_is_member:
            old_note = self.store_user_message(
                actor, group.id, None, {"migrate_to_chat_id": new.id}
            )
            await self.dispatch({"message": self.message_dict(old_note)})
            new_note = self.store_user_message(
                actor, new.id, None, {"migrate_from_chat_id": group.id}
            )
            await self.dispatch({"message": self.message_dict(new_note)})
        return new

    async def inject(self, update: dict) -> dict:
        """Deliver a raw update (update_id assigned when missing); returns it."""
        return await self.dispatch(dict(update))

    async def wait_idle(self, quiet: float = 0.05, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Polling mode: wait until every update was fetched and no call came for `quiet` s."""
        deadline = time.monotonic() + timeout
        while True:
            pending = any(u["update_id"] > self._fetched_upto for u in self._queue)
            silent = time.monotonic() - self._last_arrival >= quiet
            if not pending and self._inflight == 0 and silent:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the bot did not go idle")
            await asyncio.sleep(min(quiet / 2, 0.01))

    @contextlib.contextmanager
    def intercept(self, method: str, handler: Interceptor) -> Iterator[None]:
        """Answer Bot API `method` with `handler` inside the `with` block, then as before.

        `handler(params, files, real)` is awaited for each call; `real(params, files)` is the
        simulator's own answer (call it to pass the call through, or raise ApiError to fail
        it). Calls are recorded in `calls` either way. Example: kill a process the moment
        Telegram has accepted its 5th message.
        """
        key = method.lower()
        if key not in self._methods:
            raise ValueError(f"the simulator has no Bot API method {method!r}")
        name, real = self._methods[key]

        async def answer(params: dict, files: dict) -> Any:
            return await handler(params, files, real)

        self._methods[key] = (name, answer)
        try:
            yield
        finally:
            self._methods[key] = (name, real)

    # looking at what happened

    def messages(
        self, chat_id: int, *, from_bot: bool | None = True, include_deleted: bool = False
    ) -> list[SimMessage]:
        """Messages in a chat, oldest first: by default the bot's, without deleted ones."""
        return [
            m
            for m in self._chats.get(chat_id, [])
            if (from_bot is None or m.from_bot == from_bot) and (include_deleted or not m.deleted)
        ]

    def last(self, chat_id: int) -> SimMessage | None:
        """The newest undeleted message the bot sent to a chat."""
        found = self.messages(chat_id)
        return found[-1] if found else None

    def message(self, chat_id: int, message_id: int) -> SimMessage | None:
        """Any message by chat and id, deleted or not."""
        return self._by_id.get((chat_id, message_id))

    def calls_to(self, method: str) -> list[ApiCall]:
        """The received calls of one method (case-insensitive)."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def delivered(self, chat_id: int) -> int:
        """How many send* calls to this chat succeeded."""
        return self._delivered[chat_id]

    def refused(self, chat_id: int) -> int:
        """How many send* calls to this chat failed (any error, 429 included)."""
        return self._refused[chat_id]

    def menu(self, user: Persona, chat: Group | None = None) -> list[tuple[str, str]]:
        """The command menu `user` sees in `chat` (private when None), by Telegram's scope rules."""
        lang = user.language_code or ""
        if chat is None:
            chain = [f"chat:{user.id}", "all_private_chats", "default"]
        else:
            admin = chat.members.get(user.id) in ("creator", "administrator")
            chain = [f"chat_member:{chat.id}:{user.id}"]
            if admin:
                chain.append(f"chat_administrators:{chat.id}")
            chain.append(f"chat:{chat.id}")
            if admin:
                chain.append("all_chat_administrators")
            chain += ["all_group_chats", "default"]
        for key in chain:
            for candidate in ([f"{key}/{lang}"] if lang else []) + [key]:
                if candidate in self.commands:
                    return self.commands[candidate]
        return []

    # plumbing shared with the driver

    def now(self) -> int:
        """The current Unix time, as Telegram stamps messages."""
        return int(self.clock())

    def message_dict(self, msg: SimMessage) -> dict:
        """A message as a Telegram Message object."""
        data: dict[str, Any] = {
            "message_id": msg.message_id,
            "date": msg.date,
            "chat": self._chat_dict(msg.chat_id),
            "from": self.bot_user if msg.from_bot else self.users[msg.from_id].user_dict,
        }
        if msg.text is not None:
            data["text"] = msg.plain
            if msg.entities:
                data["entities"] = msg.entities
        elif msg.caption is not None:
            data["caption"] = msg.plain
            if msg.entities:
                data["caption_entities"] = msg.entities
        if msg.photo is not None:
            data["photo"] = [_photo_size(f) for f in [*msg.photo.smaller, msg.photo]]
        if msg.document is not None:
            data["document"] = _document(msg.document)
        if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
            data["reply_markup"] = {"inline_keyboard": msg.reply_markup["inline_keyboard"]}
        if msg.edit_date is not None:
            data["edit_date"] = msg.edit_date
        return {**data, **{k: v for k, v in msg.extra.items() if k != "entities"}}

    def user_file(self, data: bytes, name: str, mime_type: str | None, kind: str) -> SimFile:
        """Store a file a persona sends as `kind` (photo or document); returns it with its ids."""
        if not data:
            raise SimulatorError("a Telegram client does not send an empty file")
        if kind == "photo":
            try:
                _check_photo(data)
            except ApiError as exc:
                raise SimulatorError(f"Telegram refuses this photo: {exc.description}") from None
            return self.register_file(SimFile(name, data, None), kind)
        if kind != "document":
            raise ValueError("kind is photo or document")
        return self.register_file(SimFile(name, data, mime_type), kind)

    def register_file(self, upload: SimFile, kind: str, *, scaled: bool = True) -> SimFile:
        """Give a new file its file_id and file_unique_id and keep it for getFile; a photo
        also gets its smaller sizes, as Telegram makes them (unless `scaled` is False)."""
        count = len(self._files) + 1
        upload.kind = kind
        upload.file_id = f"{kind[:3].upper()}-{count:06d}-simfile"
        upload.file_unique_id = f"u{count:06d}"
        self._files[upload.file_id] = upload
        size = _image_size(upload.data) if kind == "photo" and scaled else None
        if size is not None:
            upload.smaller = [
                self.register_file(f, kind, scaled=False) for f in _smaller_sizes(*size)
            ]
        return upload

    def new_media_group_id(self) -> str:
        """A fresh media_group_id for an album."""
        self._media_groups += 1
        return str(13_000_000_000_000_000 + self._media_groups)

    def store_user_message(
        self, persona: Persona, chat_id: int, text: str | None, extra: dict
    ) -> SimMessage:
        """Record a message a persona sent (text None for service messages)."""
        self.users.setdefault(persona.id, persona)
        msg = SimMessage(
            message_id=self._new_message_id(chat_id),
            chat_id=chat_id,
            from_bot=False,
            date=self.now(),
            from_id=persona.id,
            text=text,
            plain=text or "",
            entities=list(extra.get("entities", [])),
            extra=extra,
        )
        self._store(msg)
        return msg

    async def dispatch(self, update: dict) -> dict:
        """Hand an update to the bot: awaited through on_update, or queued for getUpdates."""
        if "update_id" not in update:
            self._update_id += 1
            update = {"update_id": self._update_id, **update}
        else:
            self._update_id = max(self._update_id, update["update_id"])
        self.updates.append(update)
        if self.on_update is not None:
            await self.on_update(update)
        else:
            self._queue.append(update)
            self._wake_pollers()
        return update

    async def callback_query(
        self,
        persona: Persona,
        msg: SimMessage | None,
        data: str,
        chat_id: int | None = None,
        message_id: int | None = None,
    ) -> CallbackAnswer | None:
        """Deliver a button press; return the bot's answer (None if it did not answer)."""
        self._update_id += 1
        query_id = str(7_000_000_000_000_000 + self._update_id)
        self._queries[query_id] = None
        if msg is not None:
            message = self.message_dict(msg)
            chat_id = msg.chat_id
        else:  # the message is unknown: Telegram sends an InaccessibleMessage
            message = {"chat": self._chat_dict(chat_id), "message_id": message_id, "date": 0}
        query = {
            "id": query_id,
            "from": persona.user_dict,
            "message": message,
            "chat_instance": str(abs(chat_id or 0) * 31 + self.bot_id),
            "data": data,
        }
        await self.dispatch({"callback_query": query})
        if self.on_update is None:
            await self.wait_idle()
        return self._queries[query_id]

    async def my_chat_member(self, chat: dict, by: Persona, old: str, new: str) -> None:
        """Tell the bot its status in a chat changed."""
        change = {
            "chat": chat,
            "from": by.user_dict,
            "date": self.now(),
            "old_chat_member": _member(self.bot_user, old),
            "new_chat_member": _member(self.bot_user, new),
        }
        await self.dispatch({"my_chat_member": change})

    def _new_message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] += 1
        return self._next_message_id[chat_id]

    def _store(self, msg: SimMessage) -> None:
        self._chats.setdefault(msg.chat_id, []).append(msg)
        self._by_id[(msg.chat_id, msg.message_id)] = msg

    def _wake_pollers(self) -> None:
        self._new_update.set()
        self._new_update = asyncio.Event()

    def _chat_dict(self, chat_id: int | None) -> dict:
        if chat_id in self.users:
            return self.users[chat_id].chat_dict
        if chat_id in self.groups:
            return self.groups[chat_id].chat_dict
        return {"id": chat_id, "type": "private" if (chat_id or 0) > 0 else "group"}

    # HTTP

    async def _handle(self, request: web.Request) -> web.Response:
        self._last_arrival = time.monotonic()
        method = request.match_info["method"]
        name, handler = self._methods.get(method.lower(), (method, None))
        long_poll = name == "getUpdates"
        if not long_poll:
            self._inflight += 1
        params: dict = {}
        try:
            params, files = await _read_params(request)
            if any(f.size > MAX_UPLOAD for f in files.values()):
                raise ApiError(413, "Request Entity Too Large")
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found")
            try:
                result = await handler(params, files)
            except (ApiError, asyncio.CancelledError):
                raise
            except Exception as exc:
                # A simulator bug must not look like a network hiccup that PTB retries quietly.
                self.errors.append(exc)
                raise ApiError(500, f"Internal Server Error: simulator failed: {exc!r}") from exc
        except ApiError as exc:
            self._count(name, params, ok=False)
            self.calls.append(
                ApiCall(name, params, False, exc.description, exc.code, parameters=exc.parameters)
            )
            body: dict[str, Any] = {
                "ok": False,
                "error_code": exc.code,
                "description": exc.description,
            }
            if exc.parameters:
                body["parameters"] = exc.parameters
            return web.json_response(body, status=exc.code)
        finally:
            if not long_poll:
                self._inflight -= 1
                self._last_arrival = time.monotonic()
        self._count(name, params, ok=True)
        self.calls.append(ApiCall(name, params, True, result=result))
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        path = request.match_info["path"]
        for f in self._files.values():
            if _file_path(f) == path:
                return web.Response(
                    body=f.data, content_type=f.mime_type or "application/octet-stream"
                )
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    def _count(self, method: str, params: dict, ok: bool) -> None:
        chat_id = params.get("chat_id")
        if method in _SEND_METHODS and isinstance(chat_id, int):
            (self._delivered if ok else self._refused)[chat_id] += 1

    # chats the bot may act in

    def _known_chat(self, params: dict) -> Persona | Group:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        if isinstance(chat_id, str):
            match = [g for g in self.groups.values() if g.username and "@" + g.username == chat_id]
            if not match:
                raise bad_request("chat not found")
            chat_id = params["chat_id"] = match[0].id
        if chat_id in self.users:
            return self.users[chat_id]
        if chat_id in self.groups:
            return self.groups[chat_id]
        raise bad_request("chat not found")

    def _target(self, params: dict) -> Persona | Group:
        """The chat named by chat_id, if the bot may write there now."""
        target = self._known_chat(params)
        if isinstance(target, Persona):
            if target.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not target.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            return target
        kind = "group chat" if target.type == "group" else "supergroup chat"
        if target.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": target.migrated_to},
            )
        if target.bot_status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind}")
        if target.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind}")
        return target

    def _admit(self, target: Persona | Group) -> None:
        if self.flood_limits:
            retry = self.flood.admit(target.id, isinstance(target, Persona))
            if retry is not None:
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}
                )

    def _own_message(self, params: dict, action: str) -> SimMessage:
        if "inline_message_id" in params:
            raise bad_request(f"message to {action} not found")
        self._target(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        msg = (
            self._by_id.get((params["chat_id"], message_id))
            if isinstance(message_id, int)
            else None
        )
        if msg is None or msg.deleted:
            raise bad_request(f"message to {action} not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        return msg

    # Bot API methods

    async def _api_get_me(self, p: dict, files: dict) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_get_updates(self, p: dict, files: dict) -> list[dict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if isinstance(p.get("allowed_updates"), list):
            self._allowed = frozenset(p["allowed_updates"]) or _DEFAULT_UPDATES
        offset = p.get("offset") or 0
        if offset > 0:
            while self._queue and self._queue[0]["update_id"] < offset:
                self._queue.popleft()
        elif offset < 0:
            while len(self._queue) > -offset:
                self._queue.popleft()
        limit = min(max(p.get("limit") or 100, 1), 100)
        deadline = time.monotonic() + max(p.get("timeout") or 0, 0)
        me = self._poller = object()
        self._wake_pollers()  # an older long poll now ends with 409 Conflict, as on Telegram
        while True:
            # Telegram drops updates of types the bot did not ask for.
            for update in [u for u in self._queue if not self._allowed & u.keys()]:
                self._queue.remove(update)
            batch = list(self._queue)[:limit]
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self._closing:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), remaining)
            if self._poller is not me:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
        if batch:
            self._fetched_upto = max(self._fetched_upto, batch[-1]["update_id"])
        return batch

    async def _api_set_webhook(self, p: dict, files: dict) -> bool:
        self.webhook_url = p.get("url") or ""
        if p.get("drop_pending_updates"):
            self._queue.clear()
        return True

    async def _api_delete_webhook(self, p: dict, files: dict) -> bool:
        self.webhook_url = ""
        if p.get("drop_pending_updates"):
            self._queue.clear()
        return True

    async def _api_get_webhook_info(self, p: dict, files: dict) -> dict:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    async def _api_send_message(self, p: dict, files: dict) -> dict:
        if not isinstance(p.get("text"), str) or not p["text"]:
            raise bad_request("message text is empty")
        markup = _reply_markup(p.get("reply_markup"))
        target = self._target(p)
        _web_apps_only_in_private(markup, target.id in self.users)
        plain, entities = _render(p["text"], p.get("parse_mode"), p.get("entities"), "text")
        reply = self._reply_extra(target.id, p)
        self._admit(target)
        msg = self._bot_message(target.id, markup, reply)
        msg.text, msg.plain, msg.entities = p["text"], plain, entities
        msg.parse_mode = p.get("parse_mode")
        self._store(msg)
        return self.message_dict(msg)

    async def _api_send_photo(self, p: dict, files: dict) -> dict:
        return await self._send_media(p, files, "photo")

    async def _api_send_document(self, p: dict, files: dict) -> dict:
        return await self._send_media(p, files, "document")

    async def _send_media(self, p: dict, files: dict, kind: str) -> dict:
        markup = _reply_markup(p.get("reply_markup"))
        target = self._target(p)
        _web_apps_only_in_private(markup, target.id in self.users)
        caption = p.get("caption") or ""
        plain, entities = "", []
        if caption:
            parse_mode, given = p.get("parse_mode"), p.get("caption_entities")
            plain, entities = _render(caption, parse_mode, given, "caption")
        reply = self._reply_extra(target.id, p)
        upload = self._input_file(p, files, kind)
        self._admit(target)
        msg = self._bot_message(target.id, markup, reply)
        setattr(msg, kind, upload)
        if plain:
            msg.caption, msg.plain, msg.entities = caption, plain, entities
            msg.parse_mode = p.get("parse_mode")
        self._store(msg)
        return self.message_dict(msg)

    async def _api_send_media_group(self, p: dict, files: dict) -> list[dict]:
        items = _album_items(p.get("media"))
        target = self._target(p)
        # Every caption is parsed, then every file read, before anything is sent.
        captions = [
            _render(
                item["caption"], item.get("parse_mode"), item.get("caption_entities"), "caption"
            )
            if item.get("caption")
            else ("", [])
            for item in items
        ]
        uploads = [
            self._media_file(
                item.get("media"), files, item["type"], "can't parse InputMedia: media not found"
            )
            for item in items
        ]
        reply = self._reply_extra(target.id, p)
        for _ in items:  # each message of an album counts against the flood limits
            self._admit(target)
        extra = dict(reply)
        if len(items) > 1:  # Telegram sends a lone item as an ordinary message
            extra["media_group_id"] = self.new_media_group_id()
        sent = []
        for item, upload, (plain, entities) in zip(items, uploads, captions, strict=True):
            msg = self._bot_message(target.id, None, dict(extra))
            setattr(msg, item["type"], upload)
            if plain:
                msg.caption, msg.plain, msg.entities = item["caption"], plain, entities
                msg.parse_mode = item.get("parse_mode")
            self._store(msg)
            sent.append(self.message_dict(msg))
        return sent

    async def _api_edit_message_media(self, p: dict, files: dict) -> dict:
        markup = _reply_markup(p.get("reply_markup"), inline_only=True)
        item = p.get("media")
        if not isinstance(item, dict):
            raise bad_request("can't parse InputMedia JSON object")
        kind = item.get("type")
        if kind not in ("photo", "document"):
            raise bad_request(f'can\'t parse InputMedia: type "{kind}" is unsupported')
        msg = self._own_message(p, "edit")
        if msg.photo is None and msg.document is None:
            raise bad_request("there is no media in the message to edit")
        if "media_group_id" in msg.extra and (kind == "document") != (msg.document is not None):
            raise bad_request("can't change media type in the album")
        plain, entities = "", []
        if item.get("caption"):
            plain, entities = _render(
                item["caption"], item.get("parse_mode"), item.get("caption_entities"), ""
            )
        upload = self._media_file(
            item.get("media"), files, kind, "can't parse InputMedia: media not found"
        )
        msg.history.append(msg.caption or "")
        msg.photo = upload if kind == "photo" else None
        msg.document = upload if kind == "document" else None
        msg.caption = item["caption"] if plain else None
        msg.plain, msg.entities, msg.reply_markup = plain, entities, markup
        msg.parse_mode = item.get("parse_mode")
        return self._edited(msg)

    async def _api_edit_message_text(self, p: dict, files: dict) -> dict:
        if not isinstance(p.get("text"), str) or not p["text"]:
            raise bad_request("message text is empty")
        markup = _reply_markup(p.get("reply_markup"), inline_only=True)
        msg = self._own_message(p, "edit")
        _web_apps_only_in_private(markup, msg.chat_id in self.users)
        if msg.text is None:
            raise bad_request("there is no text in the message to edit")
        plain, entities = _render(p["text"], p.get("parse_mode"), p.get("entities"), "text")
        # Telegram compares what users see, and a missing reply_markup removes the keyboard.
        if (plain, entities, markup) == (msg.plain, msg.entities, msg.reply_markup):
            raise _not_modified()
        msg.history.append(msg.text)
        msg.text, msg.plain, msg.entities, msg.reply_markup = p["text"], plain, entities, markup
        msg.parse_mode = p.get("parse_mode")
        return self._edited(msg)

    async def _api_edit_message_caption(self, p: dict, files: dict) -> dict:
        markup = _reply_markup(p.get("reply_markup"), inline_only=True)
        msg = self._own_message(p, "edit")
        _web_apps_only_in_private(markup, msg.chat_id in self.users)
        if msg.text is not None:
            raise bad_request("there is no caption in the message to edit")
        caption = p.get("caption") or ""
        plain, entities = "", []
        if caption:
            plain, entities = _render(
                caption, p.get("parse_mode"), p.get("caption_entities"), "caption"
            )
        if (plain, entities, markup) == (msg.plain, msg.entities, msg.reply_markup):
            raise _not_modified()
        msg.history.append(msg.caption or "")
        msg.caption, msg.plain, msg.entities, msg.reply_markup = caption, plain, entities, markup
        msg.parse_mode = p.get("parse_mode")
        return self._edited(msg)

    async def _api_edit_message_reply_markup(self, p: dict, files: dict) -> dict:
        markup = _reply_markup(p.get("reply_markup"), inline_only=True)
        msg = self._own_message(p, "edit")
        _web_apps_only_in_private(markup, msg.chat_id in self.users)
        if markup == msg.reply_markup:
            raise _not_modified()
        msg.reply_markup = markup
        return self._edited(msg)

    async def _api_delete_message(self, p: dict, files: dict) -> bool:
        target = self._target(p)
        message_id = p.get("message_id")
        msg = self._by_id.get((target.id, message_id)) if isinstance(message_id, int) else None
        if msg is None or msg.deleted:
            raise bad_request("message to delete not found")
        if not msg.from_bot and isinstance(target, Group) and target.bot_status != "administrator":
            raise bad_request("message can't be deleted")
        msg.deleted = True
        return True

    async def _api_answer_callback_query(self, p: dict, files: dict) -> bool:
        query_id = p.get("callback_query_id")
        if query_id not in self._queries or self._queries[query_id] is not None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self._queries[query_id] = CallbackAnswer(
            p.get("text"), bool(p.get("show_alert")), p.get("url"), p.get("cache_time") or 0
        )
        return True

    async def _api_get_file(self, p: dict, files: dict) -> dict:
        found = self._files.get(p.get("file_id") or "")
        if found is None:
            raise bad_request("invalid file_id")
        if found.size > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {
            "file_id": found.file_id,
            "file_unique_id": found.file_unique_id,
            "file_size": found.size,
            "file_path": _file_path(found),
        }

    async def _api_set_my_commands(self, p: dict, files: dict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        parsed = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand: BotCommand must be an Object")
            name, description = item.get("command"), item.get("description")
            if not isinstance(name, str) or not _COMMAND_NAME.match(name.removeprefix("/")):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            parsed.append((name.removeprefix("/"), description))
        key = self._scope_key(p)
        if parsed:
            self.commands[key] = parsed
        else:
            self.commands.pop(key, None)  # an empty list is how Telegram deletes them
        return True

    async def _api_delete_my_commands(self, p: dict, files: dict) -> bool:
        self.commands.pop(self._scope_key(p), None)
        return True

    async def _api_get_my_commands(self, p: dict, files: dict) -> list[dict]:
        found = self.commands.get(self._scope_key(p), [])
        return [{"command": c, "description": d} for c, d in found]

    def _scope_key(self, p: dict) -> str:
        scope = p.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad_request("can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
            key = kind
        elif kind in ("chat", "chat_administrators", "chat_member"):
            chat = self._known_chat({"chat_id": _as_int(scope.get("chat_id"))})
            key = f"{kind}:{chat.id}"
            if kind == "chat_member":
                user_id = _as_int(scope.get("user_id"))
                if user_id not in self.users:
                    raise bad_request("user not found")
                key += f":{user_id}"
        else:
            raise bad_request("unsupported bot command scope type")
        lang = p.get("language_code") or ""
        if lang and not re.fullmatch(r"[a-z]{2}", lang):
            raise bad_request("invalid language code specified")
        return f"{key}/{lang}" if lang else key

    async def _api_get_chat(self, p: dict, files: dict) -> dict:
        target = self._known_chat(p)
        return {
            **target.chat_dict,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _api_get_chat_member(self, p: dict, files: dict) -> dict:
        target = self._known_chat(p)
        user_id = p.get("user_id")
        if user_id == self.bot_id:
            status = target.bot_status if isinstance(target, Group) else "member"
            return _member(self.bot_user, status)
        if user_id not in self.users:
            raise bad_request("user not found")
        if isinstance(target, Persona):
            status = "member" if user_id == target.id else "left"
        else:
            status = target.members.get(user_id, "left")
        return _member(self.users[user_id].user_dict, status)

    async def _api_get_chat_administrators(self, p: dict, files: dict) -> list[dict]:
        target = self._known_chat(p)
        if isinstance(target, Persona):
            raise bad_request("there are no administrators in the private chat")
        admins = [
            _member(self.users[uid].user_dict, status)
            for uid, status in target.members.items()
            if status in ("creator", "administrator") and uid in self.users
        ]
        if target.bot_status == "administrator":
            admins.append(_member(self.bot_user, "administrator"))
        return admins

    async def _api_get_chat_member_count(self, p: dict, files: dict) -> int:
        target = self._known_chat(p)
        if isinstance(target, Persona):
            return 2
        return len(target.members) + (1 if target.bot_is_member else 0)

    async def _api_leave_chat(self, p: dict, files: dict) -> bool:
        target = self._target(p)
        if isinstance(target, Persona):
            raise bad_request("chat member status can't be changed in private chats")
        target.bot_status = "left"
        self.left_chats.add(target.id)
        return True

    async def _api_send_chat_action(self, p: dict, files: dict) -> bool:
        self._target(p)
        return True

    async def _api_set_chat_menu_button(self, p: dict, files: dict) -> bool:
        chat_id = None
        if p.get("chat_id") is not None:
            chat = self._known_chat(p)
            if not isinstance(chat, Persona):  # menu buttons belong to private chats
                raise bad_request("invalid chat_id specified")
            chat_id = chat.id
        self.menu_buttons[chat_id] = _menu_button(p.get("menu_button"))
        return True

    async def _api_get_chat_menu_button(self, p: dict, files: dict) -> dict:
        chat_id = self._known_chat(p).id if p.get("chat_id") is not None else None
        return self.menu_buttons.get(chat_id) or self.menu_buttons.get(None) or {"type": "commands"}

    async def _api_close(self, p: dict, files: dict) -> bool:
        return True

    async def _api_log_out(self, p: dict, files: dict) -> bool:
        return True

    # helpers for the methods above

    def _bot_message(self, chat_id: int, markup: dict | None, extra: dict) -> SimMessage:
        return SimMessage(
            message_id=self._new_message_id(chat_id),
            chat_id=chat_id,
            from_bot=True,
            date=self.now(),
            from_id=self.bot_id,
            reply_markup=markup,
            extra=extra,
        )

    def _reply_extra(self, chat_id: int, p: dict) -> dict:
        reply = p.get("reply_parameters")
        reply = reply if isinstance(reply, dict) else {}
        reply_id = reply.get("message_id") or p.get("reply_to_message_id")
        if not reply_id:
            return {}
        original = self._by_id.get((chat_id, reply_id))
        if original is not None and not original.deleted:
            return {"reply_to_message": self.message_dict(original)}
        if reply.get("allow_sending_without_reply") or p.get("allow_sending_without_reply"):
            return {}
        raise bad_request("message to be replied not found")

    def _edited(self, msg: SimMessage) -> dict:
        msg.edited_count += 1
        msg.edit_date = self.now()
        return self.message_dict(msg)

    def _input_file(self, p: dict, files: dict, kind: str) -> SimFile:
        value = p.get(kind)
        if not (isinstance(value, str) and value.startswith("attach://")) and kind in files:
            value = files[kind]
        return self._media_file(value, files, kind, f"there is no {kind} in the request")

    def _media_file(self, value: Any, files: dict, kind: str, missing: str) -> SimFile:
        """The file a send names: an upload (maybe by attach://), a file_id or a URL."""
        if isinstance(value, str) and value.startswith("attach://"):
            value = files.get(value.removeprefix("attach://"))
            if value is None:
                raise bad_request(missing)
        if isinstance(value, SimFile):
            if not value.data:
                raise bad_request("file must be non-empty")
            if kind == "photo":
                _check_photo(value.data)
            return self.register_file(value, kind)
        if isinstance(value, str) and value:
            if value in self._files:
                found = self._files[value]
                if found.kind != kind:
                    raise bad_request(
                        f"can't use file of type {found.kind.title()} as {kind.title()}"
                    )
                return found
            if value.startswith(("http://", "https://")):
                return SimFile(value.rsplit("/", 1)[-1] or kind, b"", None, value, value, value)
            raise bad_request("wrong file identifier/HTTP URL specified")
        raise bad_request(missing)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _as_int(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


async def _read_params(request: web.Request) -> tuple[dict, dict[str, SimFile]]:
    """Parameters from the query string and a form, multipart or JSON body, typed back."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, SimFile] = {}
    if request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON encoded request") from None
            if isinstance(body, dict):
                raw.update(body)
        else:
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge:
                raise ApiError(413, "Request Entity Too Large") from None
            for key, value in form.items():
                if isinstance(value, str):
                    raw[key] = value
                else:
                    files[key] = SimFile(value.filename, value.file.read(), value.content_type)
    return {key: _decode(key, value) for key, value in raw.items()}, files


def _decode(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            return value  # left for the method to reject with its own message
    if key in _INT_FIELDS:
        return _as_int(value)
    if key in _FLOAT_FIELDS:
        try:
            return float(value)
        except ValueError:
            return 0.0
    if key in _BOOL_FIELDS:
        return value.lower() in ("true", "1")
    return value


def _render(text: str, parse_mode: Any, entities: Any, kind: str) -> tuple[str, list[dict]]:
    """Visible text and entities of a text or caption, checked against Telegram's limits."""
    mode = (parse_mode or "").lower() if isinstance(parse_mode, str) else ""
    if mode == "html":
        try:
            plain, found = parse_html(text)
        except HtmlParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    elif mode in ("", "markdown", "markdownv2"):
        # Markdown is not used by opsbot; it is accepted without checking.
        plain, found = text, entities if isinstance(entities, list) else []
    else:
        raise bad_request(f"unsupported parse_mode {parse_mode}")
    plain, found = _trim(plain, found)
    if not plain:
        if kind != "text":
            return "", []  # TDLib allows an empty caption: the file goes without one
        raise bad_request("message text is empty")
    limit = MAX_TEXT if kind == "text" else MAX_CAPTION
    if utf16_len(plain) > limit:
        raise bad_request(
            "message is too long" if kind == "text" else "message caption is too long"
        )
    return plain, found


def _album_items(media: Any) -> list[dict]:
    """The InputMedia items of sendMediaGroup, refused where Telegram refuses them."""
    if media is None or media == [] or media == "":
        raise bad_request("there are no messages to send")
    if not isinstance(media, list):
        raise bad_request("can't parse media JSON object")
    if len(media) > MAX_ALBUM:
        raise bad_request("too many messages to send as an album")
    for item in media:
        if not isinstance(item, dict):
            raise bad_request("can't parse InputMedia: InputMedia must be an Object")
        kind = item.get("type")
        if kind == "animation":
            raise bad_request(
                "can't parse InputMedia: type \"animation\" can't be used in sendMediaGroup"
            )
        if kind not in ("photo", "document", "video", "audio"):
            raise bad_request(f'can\'t parse InputMedia: type "{kind}" is unsupported')
        if kind in ("video", "audio"):
            # opsbot sends no video or audio; the simulator does not model them.
            raise ApiError(404, f"Not Found: the simulator does not support {kind} albums")
        caption = item.get("caption")
        if caption is not None and not isinstance(caption, str):
            raise bad_request('can\'t parse InputMedia: field "caption" must be of type String')
    kinds = {item["type"] for item in media}
    if "document" in kinds and len(kinds) > 1:
        raise bad_request("document can't be mixed with other media types")
    above = {bool(item.get("show_caption_above_media")) for item in media}
    if len(above) > 1:
        raise bad_request("parameter show_caption_above_media must be the same for all messages")
    return media


def _trim(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Strip surrounding whitespace the way Telegram does, keeping entity offsets right."""
    stripped = text.strip(" \t\r\n\v\f")
    if stripped == text:
        return text, entities
    cut = utf16_len(text[: len(text) - len(text.lstrip(" \t\r\n\v\f"))])
    size = utf16_len(stripped)
    kept = []
    for e in entities:
        start = max(e["offset"] - cut, 0)
        end = min(e["offset"] + e["length"] - cut, size)
        if end > start:
            kept.append({**e, "offset": start, "length": end - start})
    return stripped, kept


def _reply_markup(value: Any, *, inline_only: bool = False) -> dict | None:
    """Validate reply_markup like the Bot API; returns the markup to store."""
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in value:
        if inline_only:
            raise bad_request("inline keyboard expected")
        return value  # reply keyboards, ForceReply and ReplyKeyboardRemove are kept as sent
    rows = value["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" must be of type Array')
    total = 0
    clean_rows = []
    for row in rows:
        clean = []
        for button in row:
            clean.append(_inline_button(button))
            total += 1
        if clean:
            clean_rows.append(clean)
    if total > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    return {"inline_keyboard": clean_rows} if clean_rows else None


def _inline_button(button: Any) -> dict:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad_request(prefix + "InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise bad_request(prefix + 'Field "text" must be of type String')
    actions = [a for a in _BUTTON_ACTIONS if button.get(a) not in (None, "")]
    if not actions:
        raise bad_request(prefix + "Text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data is not None and (
        not isinstance(data, str) or len(data.encode("utf-8")) > MAX_CALLBACK_DATA
    ):
        raise bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://"))
    ):
        raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return {k: v for k, v in button.items() if v not in (None, "")}


def _web_apps_only_in_private(markup: dict | None, private: bool) -> None:
    """Telegram refuses a web_app button anywhere but a private chat, and over plain HTTP."""
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            if "web_app" not in button:
                continue
            if not private:
                raise bad_request("BUTTON_TYPE_INVALID")
            _https_web_app(button["web_app"], "inline keyboard button ")


def _https_web_app(web_app: Any, where: str) -> None:
    url = web_app.get("url") if isinstance(web_app, dict) else None
    if not isinstance(url, str) or not url.startswith("https://"):
        raise bad_request(f"{where}Web App URL '{url}' is invalid: Only HTTPS links are allowed")


def _menu_button(value: Any) -> dict:
    """Validate a MenuButton like the Bot API; returns the button to store."""
    if value is None or value == "":
        return {"type": "default"}
    if not isinstance(value, dict):
        raise bad_request("can't parse menu button: MenuButton must be an Object")
    kind = value.get("type")
    if kind not in ("commands", "web_app", "default"):
        raise bad_request("can't parse menu button: unsupported menu button type")
    if kind == "web_app":
        if not isinstance(value.get("text"), str) or not value["text"]:
            raise bad_request('can\'t parse menu button: Field "text" must be of type String')
        _https_web_app(value.get("web_app"), "menu button ")
    return value


def _not_modified() -> ApiError:
    return bad_request(
        "message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )


def _member(user: dict, status: str) -> dict:
    """A ChatMember object with the fields PTB requires for `status`."""
    data: dict[str, Any] = {"user": user, "status": status}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "administrator":
        rights = (
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_change_info",
            "can_invite_users",
            "can_pin_messages",
        )
        data.update({right: True for right in rights})
        data.update(
            can_be_edited=False,
            is_anonymous=False,
            can_promote_members=False,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
        )
    elif status == "kicked":
        data["until_date"] = 0
    return data


def _file_path(f: SimFile) -> str:
    """Where getFile says the file is: Telegram's own name, never the sender's file name."""
    folder = "photos" if f.kind == "photo" else "documents"
    ext = ""
    if f.kind == "photo":
        ext = ".jpg"
    elif "." in f.name:
        ext = "." + re.sub(r"[^A-Za-z0-9]", "", f.name.rsplit(".", 1)[1])[:10].lower()
    return f"{folder}/file_{f.file_unique_id.lstrip('u').lstrip('0') or '0'}{ext.rstrip('.')}"


# The boxes Telegram scales a photo into (longest side), below the original.
_PHOTO_BOXES = (90, 320, 800, 1280)


def _smaller_sizes(width: int, height: int) -> list[SimFile]:
    """Scaled-down copies of a width x height photo, smallest first, as Telegram makes them."""
    found = []
    for box in _PHOTO_BOXES:
        if max(width, height) <= box:
            break
        scale = box / max(width, height)
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        found.append(SimFile(f"{w}x{h}.png", png(w, h), "image/png"))
    return found


def _photo_size(f: SimFile) -> dict:
    width, height = _image_size(f.data) or (0, 0)
    return {
        "file_id": f.file_id,
        "file_unique_id": f.file_unique_id,
        "width": width,
        "height": height,
        "file_size": f.size,
    }


def _document(f: SimFile) -> dict:
    doc: dict[str, Any] = {
        "file_id": f.file_id,
        "file_unique_id": f.file_unique_id,
        "file_size": f.size,
    }
    if f.name:  # Telegram leaves file_name out when the client sent none
        doc["file_name"] = f.name
    if f.mime_type:
        doc["mime_type"] = f.mime_type
    return doc


def _check_photo(data: bytes) -> None:
    """Refuse a photo the way Telegram does: too big, not an image, or odd dimensions."""
    if len(data) > MAX_PHOTO:
        raise bad_request(
            f"file of size {len(data)} bytes is too big for a photo; "
            f"the maximum size is {MAX_PHOTO} bytes"
        )
    size = _image_size(data)
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    width, height = size
    if (
        width < 1
        or height < 1
        or width + height > 10000
        or max(width, height) > 20 * min(width, height)
    ):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, JPEG, GIF or WebP image; None if it is not one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data.startswith((b"GIF87a", b"GIF89a")) and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return (1, 1)
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return width, height
            i += 2 + length
        return (1, 1)
    return None
