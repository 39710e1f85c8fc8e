"""What every handler and job needs, reached through the typed context."""

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot

from bot.calendar import WorkCalendar
from bot.config import Settings


@dataclass
class AppState:
    """Shared, read-mostly objects of one running bot (the data itself lives in the database)."""

    settings: Settings | None = None
    engine: AsyncEngine | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    calendar: WorkCalendar | None = None
    bot_username: str = ""
    last_tick: object = None
    extras: dict = field(default_factory=dict)


class BotContext(CallbackContext[ExtBot, dict, dict, AppState]):
    """CallbackContext with typed access to settings and the database."""

    def __init__(self, application: Application, chat_id=None, user_id=None) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)

    @property
    def state(self) -> AppState:
        return self.bot_data

    @property
    def settings(self) -> Settings:
        return self.bot_data.settings

    @property
    def db(self) -> async_sessionmaker[AsyncSession]:
        return self.bot_data.sessions
