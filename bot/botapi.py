"""Bot API calls whose answer is used as Telegram sent it (decision 67, eighth round).

PTB builds a Message (its user, chat, every entity and button) from each answer to a send or
an edit: 0.1–0.4 ms of CPU per call, up to a tenth of a filed report's cost, for answers opsbot
reads one number from (the message id) or nothing at all. `post` makes the same call through
the same path (defaults, the rate limiter, PTB's errors) and skips that step. It uses PTB's
`Bot._post`, which every Bot method calls (python-telegram-bot is pinned below 23).
"""

from typing import Any

from telegram import Bot
from telegram.constants import ParseMode
from telegram.ext import ExtBot

HTML = ParseMode.HTML.value  # parse_mode: `post` takes parameters as Telegram names them


async def post(bot: Bot, method: str, params: dict[str, Any], rate_limit_args: Any = None) -> Any:
    """Call Bot API `method` with `params` (PTB objects allowed as values, None left out);
    Telegram's `result` as it came: a dict, a list or True."""
    paced = ExtBot._merge_api_rl_kwargs(None, rate_limit_args) if rate_limit_args else None
    return await bot._post(method, params, api_kwargs=paced)
