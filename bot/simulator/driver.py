"""Personas and groups: the people and chats that tests and the demo drive the simulator with."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.simulator.server import CallbackAnswer, SimFile, SimMessage, TelegramSimulator

# TDLib's bot-command regexp: /cmd[@bot] not glued to a word character or to / < >.
_COMMAND = re.compile(r"(?<![\w/<>])/([a-zA-Z0-9_]{1,64})(@[a-zA-Z0-9_]{3,32})?(?![\w/<>])")
_MENTION = re.compile(r"(?<!\w)@([a-zA-Z0-9_]{2,32})(?!\w)")


# Telegram Premium's caption limit; other accounts have 1,024 (what bots have too).
MAX_USER_CAPTION = 4096
_MIME = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".txt": "text/plain",
    ".zip": "application/zip",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _guess_mime(filename: str) -> str:
    """The mime type a client would declare for `filename` (octet-stream when unknown)."""
    _, dot, ext = filename.rpartition(".")
    return _MIME.get("." + ext.lower() if dot else "", "application/octet-stream")


class SimulatorError(RuntimeError):
    """A test drove the simulator into something a real Telegram client could not do."""


def utf16_offset(text: str, index: int) -> int:
    """UTF-16 offset of the Python character index `index` in `text`."""
    return len(text[:index].encode("utf-16-le", "surrogatepass")) // 2


def text_entities(text: str) -> list[dict]:
    """The bot_command and mention entities Telegram's clients would attach to `text`."""
    found = []
    for kind, pattern in (("bot_command", _COMMAND), ("mention", _MENTION)):
        for match in pattern.finditer(text):
            start = utf16_offset(text, match.start())
            length = utf16_offset(text, match.end()) - start
            found.append({"type": kind, "offset": start, "length": length})
    found.sort(key=lambda e: e["offset"])
    return found


class Persona:
    """A Telegram user who talks to the bot, in private or in groups."""

    def __init__(
        self,
        sim: TelegramSimulator,
        id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> None:
        self.sim = sim
        self.id = id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        # Telegram lets a bot write to a user only after the user opened the private chat.
        self.started = False
        self.blocked = False

    def __repr__(self) -> str:
        return f"Persona({self.id}, {self.first_name!r})"

    @property
    def user_dict(self) -> dict:
        """This persona as a Telegram User object."""
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                user[key] = getattr(self, key)
        return user

    @property
    def chat_dict(self) -> dict:
        """The private chat with this persona as a Telegram Chat object."""
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        for key in ("last_name", "username"):
            if getattr(self, key):
                chat[key] = getattr(self, key)
        return chat

    @property
    def inbox(self) -> list[SimMessage]:
        """Messages the bot sent to this persona's private chat and has not deleted, in order."""
        return self.sim.messages(self.id)

    @property
    def last(self) -> SimMessage | None:
        """The newest message the bot sent to this persona's private chat."""
        return self.sim.last(self.id)

    async def send(
        self, text: str, *, chat: Group | None = None, reply_to: SimMessage | None = None
    ) -> SimMessage:
        """Send a text message (private chat unless `chat` is a group); returns it."""
        extra: dict[str, Any] = {}
        if reply_to is not None:
            extra["reply_to_message"] = self.sim.message_dict(reply_to)
        return await self._post(chat, text, extra)

    async def send_photo(
        self,
        data: bytes,
        *,
        caption: str = "",
        filename: str = "photo.jpg",
        chat: Group | None = None,
        media_group_id: str | None = None,
    ) -> SimMessage:
        """Send a photo (with an optional caption) as a Telegram client does; returns it."""
        upload = self.sim.user_file(data, filename, None, "photo")
        return await self._post_media(chat, "photo", upload, caption, media_group_id)

    async def send_document(
        self,
        data: bytes,
        *,
        filename: str,
        mime_type: str = "application/octet-stream",
        caption: str = "",
        chat: Group | None = None,
        media_group_id: str | None = None,
    ) -> SimMessage:
        """Send a file as a document (with an optional caption); returns it."""
        upload = self.sim.user_file(data, filename, mime_type, "document")
        return await self._post_media(chat, "document", upload, caption, media_group_id)

    async def send_album(
        self, items: list[tuple[str, bytes, str]], *, caption: str = "", chat: Group | None = None
    ) -> list[SimMessage]:
        """Send 2-10 (kind, data, filename) items as one album: one update per item, one
        media_group_id, the caption on the first, as Telegram's clients do."""
        if not 2 <= len(items) <= 10:
            raise SimulatorError("an album has 2 to 10 items")
        kinds = {kind for kind, _, _ in items}
        if not kinds <= {"photo", "document"} or len(kinds) > 1:
            raise SimulatorError("an album is all photos or all documents")
        # Every file is checked before the first is sent, as a client uploads them all first.
        uploads = [
            self.sim.user_file(data, name, None if kind == "photo" else _guess_mime(name), kind)
            for kind, data, name in items
        ]
        group_id = self.sim.new_media_group_id()
        sent = []
        for i, ((kind, _, _), upload) in enumerate(zip(items, uploads, strict=True)):
            text = caption if i == 0 else ""
            sent.append(await self._post_media(chat, kind, upload, text, group_id))
        return sent

    async def forward(
        self,
        text: str,
        *,
        from_user: Persona | None = None,
        sender_name: str | None = None,
        chat: Group | None = None,
    ) -> SimMessage:
        """Forward a text written by `from_user` (or by a hidden `sender_name`) to the bot."""
        date = self.sim.now()
        if from_user is not None:
            origin = {"type": "user", "sender_user": from_user.user_dict, "date": date}
        else:
            origin = {"type": "hidden_user", "sender_user_name": sender_name or "?", "date": date}
        return await self._post(chat, text, {"forward_origin": origin})

    async def edit(self, message: SimMessage, text: str) -> SimMessage:
        """Edit one of this persona's own messages (the caption of a photo or document); the
        bot gets an edited_message update."""
        if message.from_bot or message.from_id != self.id:
            raise SimulatorError("a persona can only edit its own messages")
        if message.photo is not None or message.document is not None:
            message.history.append(message.caption or "")
            text = text.strip()
            message.caption, message.plain = text or None, text
        else:
            message.history.append(message.text or "")
            message.text = message.plain = text
        message.entities = text_entities(text)
        message.edited_count += 1
        message.edit_date = self.sim.now()
        await self.sim.dispatch({"edited_message": self.sim.message_dict(message)})
        return message

    async def press(self, message: SimMessage, button: str) -> CallbackAnswer | None:
        """Tap the inline button labelled `button` (or carrying that callback_data)."""
        current = self.sim.message(message.chat_id, message.message_id)
        if current is None or current.deleted:
            raise SimulatorError(f"message {message.message_id} is gone; nothing to press")
        for row in current.buttons:
            for candidate in row:
                if button in (candidate.text, candidate.callback_data):
                    if candidate.callback_data is None:
                        raise SimulatorError(f"button {button!r} opens a URL; it has no data")
                    return await self.sim.callback_query(self, current, candidate.callback_data)
        labels = [b.text for row in current.buttons for b in row]
        raise SimulatorError(f"no button {button!r} on the current keyboard; it has {labels}")

    async def press_data(self, message_id: int, chat_id: int, data: str) -> CallbackAnswer | None:
        """Send a callback query with arbitrary (possibly forged) data for any message."""
        current = self.sim.message(chat_id, message_id)
        if current is None:
            return await self.sim.callback_query(self, None, data, chat_id, message_id)
        return await self.sim.callback_query(self, current, data)

    async def block_bot(self) -> None:
        """Block the bot: its messages to this persona now fail with 403."""
        if not self.blocked:
            self.blocked = True
            await self.sim.my_chat_member(self.chat_dict, self, "member", "kicked")

    async def unblock_bot(self) -> None:
        """Unblock the bot (Telegram's "Restart"); it may write to this persona again."""
        if self.blocked:
            self.blocked = False
            self.started = True
            await self.sim.my_chat_member(self.chat_dict, self, "kicked", "member")

    async def _open(self, chat: Group | None) -> int:
        if chat is None:
            if self.blocked:
                await self.unblock_bot()  # a blocked bot gets nothing until it is unblocked
            self.started = True
            return self.id
        chat.check_open()
        chat.members.setdefault(self.id, "member")
        return chat.id

    async def _post_media(
        self,
        chat: Group | None,
        kind: str,
        upload: SimFile,
        caption: str,
        media_group_id: str | None,
    ) -> SimMessage:
        chat_id = await self._open(chat)
        caption = caption.strip()  # as Telegram's clients do
        if utf16_offset(caption, len(caption)) > MAX_USER_CAPTION:
            raise SimulatorError(f"a client sends at most {MAX_USER_CAPTION} caption characters")
        extra: dict[str, Any] = {}
        if media_group_id is not None:
            extra["media_group_id"] = media_group_id
        entities = text_entities(caption)
        if entities:
            extra["entities"] = entities
        msg = self.sim.store_user_message(self, chat_id, None, extra)
        setattr(msg, kind, upload)
        if caption:
            msg.caption = msg.plain = caption
        if chat is None or chat.bot_hears(msg, entities):
            await self.sim.dispatch({"message": self.sim.message_dict(msg)})
        return msg

    async def _post(self, chat: Group | None, text: str, extra: dict) -> SimMessage:
        chat_id = await self._open(chat)
        entities = text_entities(text)
        if entities:
            extra["entities"] = entities
        msg = self.sim.store_user_message(self, chat_id, text, extra)
        if chat is None or chat.bot_hears(msg, entities):
            await self.sim.dispatch({"message": self.sim.message_dict(msg)})
        return msg


class Group:
    """A group or supergroup the bot can be added to."""

    def __init__(
        self,
        sim: TelegramSimulator,
        id: int,
        title: str,
        type: str = "group",
        username: str | None = None,
    ) -> None:
        if type not in ("group", "supergroup"):
            raise ValueError("a group's type is 'group' or 'supergroup'")
        self.sim = sim
        self.id = id
        self.title = title
        self.type = type
        self.username = username
        self.members: dict[int, str] = {}  # user id -> creator | administrator | member
        self.bot_status = "left"
        self.migrated_to: int | None = None

    def __repr__(self) -> str:
        return f"Group({self.id}, {self.title!r})"

    @property
    def chat_dict(self) -> dict:
        """This group as a Telegram Chat object."""
        chat: dict[str, Any] = {"id": self.id, "type": self.type, "title": self.title}
        if self.username:
            chat["username"] = self.username
        return chat

    @property
    def messages(self) -> list[SimMessage]:
        """Messages the bot sent to this group and has not deleted, in order."""
        return self.sim.messages(self.id)

    @property
    def last(self) -> SimMessage | None:
        """The newest message the bot sent to this group."""
        return self.sim.last(self.id)

    @property
    def bot_is_member(self) -> bool:
        """Whether the bot is currently in the group."""
        return self.bot_status in ("member", "administrator")

    def set_status(self, persona: Persona, status: str) -> None:
        """Make `persona` a creator, administrator or plain member (as getChatMember reports)."""
        if status not in ("creator", "administrator", "member"):
            raise ValueError(f"unsupported member status {status!r}")
        self.members[persona.id] = status

    def check_open(self) -> None:
        """Raise unless a persona could post here and the bot would see it."""
        if self.migrated_to is not None:
            raise SimulatorError(f"{self} became supergroup {self.migrated_to}; post there")
        if not self.bot_is_member:
            raise SimulatorError(f"the bot is not in {self}; call sim.add_bot_to_group first")

    def bot_hears(self, msg: SimMessage, entities: list[dict]) -> bool:
        """Whether Telegram would deliver `msg` to the bot (privacy mode filters groups)."""
        if not self.sim.privacy_mode or self.bot_status == "administrator":
            return True
        reply = msg.extra.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == self.sim.bot_id:
            return True
        me = "@" + self.sim.bot_username.lower()
        text = msg.text if msg.text is not None else (msg.caption or "")
        for entity in entities:
            word = text.encode("utf-16-le")[
                entity["offset"] * 2 : (entity["offset"] + entity["length"]) * 2
            ].decode("utf-16-le")
            if entity["type"] == "mention" and word.lower() == me:
                return True
            if entity["type"] == "bot_command" and entity["offset"] == 0:
                _, _, addressee = word.partition("@")
                if not addressee or "@" + addressee.lower() == me:
                    return True
        return False
