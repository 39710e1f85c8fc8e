"""What every handler and job needs, reached through the typed context."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.ext import Application, ApplicationHandlerStop, CallbackContext, ExtBot

from bot.calendar import WorkCalendar
from bot.config import Settings
from bot.db import connection
from bot.marks import marks_for
from bot.marks import write as write_marks


@dataclass
class AppState:
    """Shared, read-mostly objects of one running bot (the data itself lives in the database)."""

    settings: Settings | None = None
    engine: AsyncEngine | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    calendar: WorkCalendar | None = None
    bot_username: str = ""
    last_tick: object = None
    # What the tick found complete, by the roster version it was seen at: the periods whose owers
    # all had obligation rows (obligations.create_ahead), the dashboard URLs everyone had a menu
    # button for (dashboard_menu.enqueue_missing). Skipped until the roster changes.
    owers_complete: dict = field(default_factory=dict)
    menus_complete: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)


class BotContext(CallbackContext[ExtBot, dict, dict, AppState]):
    """CallbackContext with typed access to settings and the database."""

    def __init__(self, application: Application, chat_id=None, user_id=None) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        # The update being handled, until a transaction has recorded it (handlers/updates.py).
        self.unrecorded_update: int | None = None
        # Its sender's Telegram id (PTB's, from the update), read with the record on PostgreSQL.
        self.update_sender: int | None = user_id
        self._open: AsyncSession | None = None  # the transaction `begin` has open

    @property
    def state(self) -> AppState:
        return self.bot_data

    @property
    def settings(self) -> Settings:
        return self.bot_data.settings

    @property
    def db(self) -> async_sessionmaker[AsyncSession]:
        return self.bot_data.sessions

    @property
    def in_transaction(self) -> bool:
        """True inside `begin`'s block (a nested `begin` joins that transaction)."""
        return self._open is not None

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction. The update's first one records the update id in it: a
        redelivered update stops before it reads anything, and the record commits (or rolls
        back) with what the handler did — one transaction per update, not two (decision 67).
        Inside an open one, the same session: a nested block is part of the outer transaction
        (on SQLite a second writer would wait for the first's lock, which it holds from the
        record on)."""
        if self._open is not None:
            yield self._open
            return
        marks, taken = marks_for(self.db), []
        try:
            async with self.db() as session, session.begin():
                self._open = session
                try:
                    # The marks of messages sent lately ride with it (no transaction of their
                    # own; with the update's record): before anything here reads or claims
                    # the outbox.
                    taken = marks.take()
                    if self.unrecorded_update is not None:
                        await self._record_update(session, taken)
                    else:
                        await write_marks(session, taken)
                    yield session
                finally:
                    self._open = None
        except BaseException:
            marks.put_back(taken)
            raise

    async def _record_update(self, session: AsyncSession, sent: list[dict]) -> None:
        # bot.services imports bot.state's users
        from bot.services.team import mark_update, mark_update_and_sender

        update_id, self.unrecorded_update = self.unrecorded_update, None
        sender, self.update_sender = self.update_sender, None
        if sender is not None and (await connection(session)).dialect.name == "postgresql":
            fresh = await mark_update_and_sender(session, update_id, sent, sender)
        else:  # SQLite: no round trip to save, and the read runs in the loop's thread
            fresh = await mark_update(session, update_id, sent)
        if not fresh:
            raise ApplicationHandlerStop  # handled before: no handler runs, nothing is sent
