"""Button data: `prefix:v1:…` packed and read back in one place, within Telegram's 64 bytes.

Telegram returns a button's data verbatim on every press, for as long as the message exists, so
a shape once sent is never changed in place: a new shape gets a new name or a new version.
"""

import re
from string import Formatter

MAX_BYTES = 64  # Telegram's limit on callback data (the simulator refuses more, as Telegram does)
VERSION = "v1"
ID = r"[0-9]{1,18}"  # a row id: 18 ASCII digits always fit BIGINT; anything longer is forged
KEY = r"[a-z][a-z0-9_]{0,31}"  # a configured key (form field, KPI, region, …)
REST = r"(?s:.*)"  # free text (may hold colons): only as the last slot


class TooLong(ValueError):
    """The data would exceed Telegram's 64 bytes (the button could not be sent)."""


class Action:
    """One kind of button, e.g. `Action("staff", "show:{person}", person=ID)`.

    `pack` builds its data, `unpack` reads it back (None for anything else), and `pattern` is
    the regex for its `CallbackQueryHandler`: data of any other shape (forged, or from an old
    keyboard) matches no handler and reaches the stale-button answer.
    """

    def __init__(self, prefix: str, template: str, **slots: str) -> None:
        self.prefix, self.template = prefix, template
        self.names: list[str] = []
        regex = [re.escape(f"{prefix}:{VERSION}:")]
        for literal, name, _, _ in Formatter().parse(template):
            regex.append(re.escape(literal))
            if name is not None:
                self.names.append(name)
                regex.append(f"(?P<{name}>{slots.get(name, '')})")
        if set(self.names) != set(slots) or len(self.names) != len(slots):
            raise ValueError(f"slots {sorted(slots)} do not match {template!r}")
        # \Z, not $: `$` also matches before a final newline, which no button of ours ends in.
        self.pattern = re.compile("^" + "".join(regex) + r"\Z")

    def pack(self, *values: object) -> str:
        """The data for these slot values (in template order); ValueError if it would not read
        back the same, TooLong beyond 64 bytes."""
        texts = tuple(str(v) for v in values)
        data = _checked(
            f"{self.prefix}:{VERSION}:"
            + self.template.format(**dict(zip(self.names, texts, strict=True)))
        )
        if self.unpack(data) != texts:
            raise ValueError(f"{data!r} does not read back as {texts}")
        return data

    def pack_if_fits(self, *values: object) -> str | None:
        """pack(), or None when the data would exceed 64 bytes (the caller drops the button)."""
        try:
            return self.pack(*values)
        except TooLong:
            return None

    def unpack(self, data: str | None) -> tuple[str, ...] | None:
        """The slot values of this action's data, in template order; None for any other data."""
        match = self.pattern.match(data or "")
        return tuple(match.group(n) for n in self.names) if match else None

    def __repr__(self) -> str:
        return f"Action({self.prefix}:{VERSION}:{self.template})"


def _checked(data: str) -> str:
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise TooLong(f"button data over {MAX_BYTES} bytes: {data!r}")
    return data
