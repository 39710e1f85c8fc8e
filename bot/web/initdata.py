"""Telegram Mini App init data: checked as Telegram specifies, and signed (the demo, tests)."""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

# Telegram's clock and ours may disagree a little; init data "from the future" beyond this is
# refused like an expired one.
CLOCK_SKEW = 60
MAX_LENGTH = 8192  # Telegram's init data is well under 4 KB; longer is not Telegram's


class InitDataError(Exception):
    """The init data is not Telegram's for this bot, or too old; `reason` says which (for logs:
    it never holds the data itself)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WebUser:
    """The Telegram user the init data was signed for."""

    id: int
    language_code: str | None
    auth_date: int


def _secret(token: str) -> bytes:
    return hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()


def _check_string(pairs: dict[str, str]) -> str:
    return "\n".join(f"{key}={pairs[key]}" for key in sorted(pairs) if key != "hash")


def verify(init_data: str, token: str, max_age: int, now: datetime) -> WebUser:
    """The user of signed `init_data`; InitDataError if tampered with, signed with another bot's
    token, older than `max_age` seconds, or malformed."""
    if not init_data or len(init_data) > MAX_LENGTH:
        raise InitDataError("missing")
    try:
        items = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataError("malformed") from None
    pairs = dict(items)
    if len(pairs) != len(items):  # a key twice: which one was signed?
        raise InitDataError("malformed")
    given = pairs.get("hash", "")
    expected = hmac.new(_secret(token), _check_string(pairs).encode(), hashlib.sha256).hexdigest()
    # Compared as bytes in constant time; a non-ASCII "hash" simply does not match.
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise InitDataError("bad_signature")
    try:
        auth_date = int(pairs["auth_date"])
        user = json.loads(pairs["user"])
        user_id = user["id"]
    except (KeyError, ValueError, TypeError):
        raise InitDataError("malformed") from None
    if type(user_id) is not int:
        raise InitDataError("malformed")
    age = now.timestamp() - auth_date
    if age > max_age or age < -CLOCK_SKEW:
        raise InitDataError("expired")
    language = user.get("language_code")
    return WebUser(user_id, language if isinstance(language, str) else None, auth_date)


def sign(user: dict, token: str, auth_date: int, **extra: str) -> str:
    """Init data for `user` as Telegram would sign it for the bot with `token`."""
    pairs = {"auth_date": str(auth_date), "user": json.dumps(user, ensure_ascii=False), **extra}
    pairs["hash"] = hmac.new(
        _secret(token), _check_string(pairs).encode(), hashlib.sha256
    ).hexdigest()
    return urlencode(pairs)
