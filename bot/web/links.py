"""Buttons that open the dashboard: a Mini App button in private chats, a t.me link in groups."""

from bot.config import Settings
from bot.i18n import t

# Telegram refuses a web_app button in a group (BUTTON_TYPE_INVALID); a t.me link with startapp
# opens the bot's Main Mini App (set to web.public_url with @BotFather) inside Telegram instead.
STARTAPP = "dashboard"
WEB_APP = "webapp:"  # bot/telegram_io.py turns this data into a web_app button


def label(locale: str) -> str:
    """The buttons' text."""
    return t(locale, "📊 Dashboard")


def private(settings: Settings, locale: str) -> list[list[tuple[str, str]]]:
    """A row with the dashboard's Mini App button for a private chat; none without a public URL."""
    url = settings.web.public_url
    return [[(label(locale), WEB_APP + url)]] if url else []


def group(settings: Settings, bot_username: str, locale: str) -> list[list[tuple[str, str]]]:
    """A row with a link that opens the dashboard from a group; none without a public URL."""
    if not settings.web.public_url or not bot_username:
        return []
    return [[(label(locale), f"https://t.me/{bot_username}?startapp={STARTAPP}")]]
