"""Telegram's parse_mode=HTML parser, ported from TDLib so errors read exactly like Telegram's."""

from dataclasses import dataclass

_SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
# TDLib's is_space(): the C string terminator counts as space, which ends tag names at the end.
_SPACE = frozenset(b" \t\r\n\v\0")
_ENTITY_NAMES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_NUL = 0
_ALPHA = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_NAME_TOKEN = _ALPHA | frozenset(b"0123456789.-")


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; str() is TDLib's message (without the API prefix)."""


@dataclass
class _Open:
    tag: str
    argument: str
    utf16_offset: int
    text_start: int


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units, the unit of Telegram's offsets and limits."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def parse_html(text: str) -> tuple[str, list[dict]]:
    """Parse Telegram HTML into (visible text, MessageEntity dicts) or raise HtmlParseError."""
    return _Parser(text.encode("utf-8")).run()


def strip_html(text: str) -> str:
    """Visible text of Telegram HTML; for invalid HTML, the text with nothing removed."""
    try:
        return parse_html(text)[0]
    except HtmlParseError:
        return text


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.out: list[str] = []
        self.out_len = 0  # characters appended to `out`, to slice link text for empty hrefs
        self.utf16 = 0
        self.entities: list[dict] = []
        self.surrogates = False

    def at(self, i: int) -> int:
        # Reading past the end yields NUL, as TDLib reads its NUL-terminated buffer.
        return self.data[i] if i < len(self.data) else _NUL

    def emit(self, chars: str) -> None:
        self.out.append(chars)
        self.out_len += len(chars)
        self.utf16 += utf16_len(chars)

    def run(self) -> tuple[str, list[dict]]:
        stack: list[_Open] = []
        data, i, n = self.data, 0, len(self.data)
        while i < n:
            c = data[i]
            if c == ord("&"):
                code, end = self.decode_entity(i)
                if code:
                    self.emit(chr(code))
                    i = end
                    continue
            if c != ord("<"):
                j = i + 1
                while j < n and data[j] not in b"&<":
                    j += 1
                self.emit(data[i:j].decode("utf-8", errors="replace"))
                i = j
                continue
            tag = self.end_tag if self.at(i + 1) == ord("/") else self.start_tag
            i = tag(i, stack)
        if stack:
            raise HtmlParseError(
                f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"'
            )
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)  # a language only counts inside <pre>
        text = "".join(self.out)
        if self.surrogates and not _is_valid_unicode(text):
            raise HtmlParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return text, self.entities

    def decode_entity(self, pos: int) -> tuple[int, int]:
        """Decode &lt; &gt; &amp; &quot; &#N; &#xH; at pos; (0, pos) if it is not one of them."""
        at, end, res = self.at, pos + 1, 0
        if at(pos + 1) == ord("#"):
            end += 1
            if at(pos + 2) == ord("x"):
                end += 1
                while at(end) in _HEX:
                    res = res * 16 + int(chr(at(end)), 16)
                    end += 1
            else:
                while ord("0") <= at(end) <= ord("9"):
                    res = res * 10 + at(end) - ord("0")
                    end += 1
            if res == 0 or res >= 0x10FFFF or end - pos >= 10:
                return 0, pos
        else:
            while at(end) in _ALPHA:
                end += 1
            name = self.data[pos + 1 : end]
            if name not in _ENTITY_NAMES:
                return 0, pos
            res = ord(_ENTITY_NAMES[name])
        if at(end) == ord(";"):
            end += 1
        self.surrogates |= 0xD800 <= res <= 0xDFFF
        return res, end

    def start_tag(self, begin: int, stack: list[_Open]) -> int:
        at, i = self.at, begin + 1
        while at(i) not in _SPACE and at(i) != ord(">"):
            i += 1
        if at(i) == _NUL:
            raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
        tag = self.data[begin + 1 : i].decode("utf-8", errors="replace").lower()
        if tag not in _SUPPORTED_TAGS:
            raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument = ""
        while at(i) != ord(">"):
            while at(i) != _NUL and at(i) in _SPACE:
                i += 1
            if at(i) == ord(">"):
                break
            name_begin = i
            while at(i) not in _SPACE and at(i) not in b"=>/\"'":
                i += 1
            name = self.data[name_begin:i].decode("utf-8", errors="replace")
            if not name:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                )
            while at(i) != _NUL and at(i) in _SPACE:
                i += 1
            if at(i) != ord("="):
                if at(i) == _NUL:
                    raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if tag == "blockquote" and name == "expandable":
                    argument = "1"
                continue
            i += 1
            while at(i) != _NUL and at(i) in _SPACE:
                i += 1
            if at(i) == _NUL:
                raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            value, i = self.attribute_value(i)
            if at(i) == _NUL:
                raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
            if tag == "a" and name == "href":
                argument = value
            elif tag == "code" and name == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif tag == "span" and name == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif tag == "tg-emoji" and name == "emoji-id":
                argument = value
            elif tag == "blockquote" and name == "expandable":
                argument = "1"
        if tag == "span" and argument != "spoiler":
            raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        stack.append(_Open(tag, argument, self.utf16, self.out_len))
        return i + 1

    def attribute_value(self, i: int) -> tuple[str, int]:
        at = self.at
        quote = at(i)
        if quote not in b"'\"":
            # An unquoted name token: letters, digits, periods and hyphens, case-insensitive.
            begin = i
            while at(i) in _NAME_TOKEN:
                i += 1
            if at(i) not in _SPACE and at(i) != ord(">"):
                raise HtmlParseError(f"Unexpected end of name token at byte offset {begin}")
            return self.data[begin:i].decode("utf-8", errors="replace").lower(), i
        i += 1
        parts: list[str] = []
        while at(i) != quote and at(i) != _NUL:
            if at(i) == ord("&"):
                code, end = self.decode_entity(i)
                if code:
                    parts.append(chr(code))
                    i = end
                    continue
            j = i + 1
            while j < len(self.data) and self.data[j] not in (quote, ord("&")):
                j += 1
            parts.append(self.data[i:j].decode("utf-8", errors="replace"))
            i = j
        if at(i) == quote:
            i += 1
        return "".join(parts), i

    def end_tag(self, begin: int, stack: list[_Open]) -> int:
        if not stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {begin}")
        at, i = self.at, begin + 2
        while at(i) not in _SPACE and at(i) != ord(">"):
            i += 1
        name = self.data[begin + 2 : i].decode("utf-8", errors="replace").lower()
        while at(i) != _NUL and at(i) in _SPACE:
            i += 1
        if at(i) != ord(">"):
            raise HtmlParseError(f"Unclosed end tag at byte offset {begin}")
        top = stack[-1]
        if name and name != top.tag:
            raise HtmlParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{top.tag}>", '
                f'found "</{name}>"'
            )
        stack.pop()
        if self.utf16 > top.utf16_offset:
            self.add_entity(top)
        return i + 1

    def add_entity(self, top: _Open) -> None:
        offset, length = top.utf16_offset, self.utf16 - top.utf16_offset
        entity: dict = {"offset": offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last["offset"], last["length"]) == (offset, length)
        if top.tag in _SIMPLE_TYPES:
            entity["type"] = _SIMPLE_TYPES[top.tag]
        elif top.tag == "tg-emoji":
            if not top.argument.isdigit() or int(top.argument) == 0:
                raise HtmlParseError("Invalid custom emoji identifier specified")
            entity.update(type="custom_emoji", custom_emoji_id=top.argument)
        elif top.tag == "a":
            url = top.argument or "".join(self.out)[top.text_start :]
            if not _valid_link(url):
                return  # Telegram silently drops links it cannot check
            entity.update(type="text_link", url=url)
        elif top.tag == "pre":
            if same_span and last["type"] == "code" and last.get("language"):
                last["type"] = "pre"
                return
            entity["type"] = "pre"
        elif top.tag == "code":
            if same_span and last["type"] == "pre" and top.argument:
                last["language"] = top.argument
                return
            entity["type"] = "code"
            if top.argument:
                entity["language"] = top.argument  # kept only if a <pre> closes around it
        else:
            entity["type"] = "expandable_blockquote" if top.argument else "blockquote"
        self.entities.append(entity)


def _is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _valid_link(url: str) -> bool:
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return False
    if "://" not in url:
        return "." in url  # Telegram accepts bare domains and adds http://
    scheme = url.split("://", 1)[0].lower()
    return scheme in {"http", "https", "tg", "ton", "ftp"}
