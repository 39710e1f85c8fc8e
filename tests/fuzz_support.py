"""Hostile-input strategies and the referee of tests/test_fuzz.py: every update must leave no
handler error, no request Telegram would refuse, and (in a private chat) an answer."""

import logging
import os
import string
from dataclasses import dataclass, field
from datetime import date

from hypothesis import HealthCheck, settings
from hypothesis import note as _note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from telegram.ext import Application

from bot.forms.spec import FieldSpec, FormSpec, default_reports
from bot.render import render
from bot.simulator import ApiCall, CallbackAnswer, Persona, SimMessage, TelegramSimulator
from bot.simulator.html import utf16_len

MAX_MESSAGE = 4096  # what a Telegram client lets a person send, in UTF-16 code units
MAX_DATA = 64  # callback data, in bytes
REPLY_METHODS = {
    "sendMessage",
    "editMessageText",
    "sendPhoto",
    "sendDocument",
    "editMessageCaption",
}
# The one 400 the bot may earn on purpose: re-drawing a card that did not change (rules-bot).
HARMLESS_400 = "message is not modified"

# ---- how many examples ------------------------------------------------------------------------
# FUZZ_PROFILE=ci (the default): few examples, derandomized, so CI is fast and reproducible and
# never flakes on a new seed. FUZZ_PROFILE=deep: many more, random, for a hunt on a workstation.
PROFILE = os.environ.get("FUZZ_PROFILE", "ci")
SCALE = {"ci": 1, "deep": 10}.get(PROFILE, 1)


def fuzz_settings(examples: int) -> settings:
    """Settings for one fuzz test: `examples` per run (times the profile's scale)."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=PROFILE != "deep",
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # the bot and its database live across examples
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
        print_blob=True,
    )


# ---- text -------------------------------------------------------------------------------------

HTML = [
    "<b>", "</b>", "<i>", "</i>", "<b><i>unclosed", "</a>", "<u>", "<s>", "<code>", "</pre>",
    "&amp;", "&", "&lt;", "&gt;", "<", ">", "&#0;", "&#x110000;", "&nosuch;", "&#65;", '"', "'",
    '<a href="javascript:alert(1)">x</a>', "<a href='tg://user?id=1'>me</a>", "<a href=x>",
    "<script>alert(1)</script>", "<tg-spoiler>", '<span class="tg-spoiler">', "<blockquote>",
    '<tg-emoji emoji-id="1">👍</tg-emoji>', "<br/>", "<!-- x -->", "<![CDATA[", "<<b>>", "<b",
    '<pre><code class="language-python">', "<img src=x onerror=alert(1)>",
]  # fmt: skip
MARKDOWN = [
    "*bold*", "_it_", "__u__", "~s~", "||spoiler||", "`code`", "```\nblock\n```", "[x](http://a)",
    "\\", "\\*", "> quote", "# title", "- item", "* item", "1. item", "**", "__", "![i](x)",
]  # fmt: skip
UNICODE = [
    "\u200f", "\u200e", "\u202e", "\u202d", "\u2066", "\u2069", "\u200d", "\u200b", "\u200c",
    "\ufeff", "\u2060", "\u00ad", "\u3000", "\u00a0", "\u2028", "\u2029", "\x85", "\r\n", "\r",
    "\t", "\x00", "\x07", "\x1b[31m", "\x7f", "\ufffd", "\U000e0041", "\u3164", "\u115f",
    "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇨🇳", "e\u0301", "\u0301\u0302\u0303", "Z̸̡̛̖a̶l̷g̵o̸", "ﷺ",
    "𝕏𝕐", "𠀀𪚥", "مرحبا", "שָׁלוֹם", "ก่ำ", "각", "ｶﾀｶﾅ", "Ω≈ç√∫", "İı", "ß", "ﬁ", "℡", "™",
]  # fmt: skip
NUMBERS = [
    "0", "-0", "+0", "00", "007", "1e309", "-1e309", "1e-309", "1E5", "NaN", "nan", "-nan",
    "sNaN", "inf", "-Infinity", "٣", "١٢٣", "۴", "१२", "１２３", "－５", "1,2,3", "1,234",
    "1,234.5", "1,23", ",5", "1.2万", "1.2w", "1.2W", "3k", "一千二百", "两万三", "三点五", "1万2",
    "十", "零", "负三", "亿亿", "万万", "一亿零一", "九千九百九十九万亿", "0x1F", "1_000", "½",
    "²", "³²", "Ⅻ", "①", "1.", ".5", "-.5", "--1", "+-1", "¥-5", "5元", "1.005", "3个", "5家",
    "999999999999999999999", "-999999999999", "2147483648", "9223372036854775808", "1 2",
    "1\n2", "12345678901234567890万亿", "1e1000000", "0.0000000000000000000001", "1,000,00",
    "-", "+", ".", "..", "e", "万", "点", "点五", "十十", "千百",
]  # fmt: skip
DATES = [
    "2026-02-30", "2026-02-29", "2028-02-29", "2026-13-01", "2026-00-10", "0000-00-00",
    "9999-12-31", "1899-12-31", "2201-01-01", "明天", "后天", "昨天", "前天", "today",
    "tomorrow", "yesterday", "12月32日", "十二月一日", "二〇二六年十二月一日", "2026年12月1日",
    "20261201", "99999999", "12-01", "12/1", "Dec 1", "1st December", "Feb 30", "februaryy 1",
    "32号", "0号", "5号", "2026/12/1", "2026.12.01", "下周一", "-1", "2026-12-01T10:00",
    "2026-１２-０１", "dec", "1 dec 99999", "十三月一日", "二〇二六年", "sept 31",
]  # fmt: skip
WORDS = [
    "沈阳", "大连", "其他", "其他地区", "物业", "电力企业", "线上", "线下", "both", "online",
    "Shenyang", "内部协助", "资金", "礼品、场地", "下载量 5000 次", "注册 800 人", "万科物业",
    "华润物业, 万科物业", "无", "N/A", "list", "列表", "help", "same as #1", "同 #2", "+1 #1",
    "ls", "?", "？", "all", "new", "set", "全部", "新建", "修改", "帮助", "@wangwei", "@lina",
    "@zhang", "@nobody", "@", "#", "/start", "/cancel", "/daily", "/start@opsbot_test_bot",
    "@opsbot_test_bot", "channel", "director", "user_ops", "zh", "en", "team", "团队", "上月",
    "本周", "2026-10", "2026-Q4", "2026-W48", "2026-W99", "9999-Q9", "0-0", "2026-11-26",
]  # fmt: skip
SEPARATORS = [" ", "\n", ":", "：", ",", "，", "、", ";", "；", "/", "|", "\n\n", "  ", "."]
FILLERS = ["中", "a", "👍🏽", "<b>&", "\n", "&amp;", "é", "𠀀", " ", "万", "9", "\u200f", "<"]

# Lone surrogates cannot travel through Telegram (its JSON is UTF-8), so "Cs" is left out.
any_char = st.characters(exclude_categories=("Cs",))
random_text = st.text(any_char, min_size=1, max_size=24)
ascii_noise = st.text(string.printable, min_size=1, max_size=24)
cjk_numbers = st.text(
    "零〇一二两三四五六七八九十百千万亿点负壹贰叁肆伍拾佰仟萬億", min_size=1, max_size=12
)
numeric_noise = st.text("0123456789.,-+eE万亿kw ", min_size=1, max_size=30)
numbers = st.one_of(
    st.sampled_from(NUMBERS),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.integers(min_value=0, max_value=2000).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    st.text("0123456789", min_size=16, max_size=600),
    numeric_noise,
    cjk_numbers,
)
dates = st.one_of(
    st.sampled_from(DATES),
    st.dates(min_value=date(2026, 11, 1), max_value=date(2027, 3, 1)).map(date.isoformat),
    st.dates().map(date.isoformat),
    st.tuples(st.integers(-1, 10**5), st.integers(-1, 99), st.integers(-1, 99)).map(
        lambda ymd: "{}-{:02}-{:02}".format(*ymd)
    ),
)
piece = st.one_of(
    st.sampled_from(HTML),
    st.sampled_from(MARKDOWN),
    st.sampled_from(UNICODE),
    st.sampled_from(WORDS),
    st.sampled_from(SEPARATORS),
    numbers,
    dates,
    random_text,
    ascii_noise,
)


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` cut to at most `limit` UTF-16 units, as Telegram counts them, and trimmed the way
    Telegram trims a message (a client cannot send surrounding blanks, nor nothing at all)."""
    text = text[:limit]
    while utf16_len(text) > limit:
        text = text[:-1]
    return text.strip(" \t\r\n\v\f")


def sendable(text: str) -> str:
    """A text a person can actually send: clipped, never empty."""
    return clip(text) or "."


mixed = st.lists(piece, min_size=1, max_size=12).map("".join)
oversized = st.tuples(
    st.lists(st.sampled_from(FILLERS + HTML + UNICODE), min_size=1, max_size=3).map("".join),
    st.integers(min_value=200, max_value=MAX_MESSAGE),
).map(lambda p: p[0] * (p[1] // max(1, utf16_len(p[0])) + 1))
hostile = st.one_of(mixed, mixed, piece, oversized).map(sendable)


def answers_for(spec: FieldSpec, reports) -> st.SearchStrategy[str]:
    """Answers to one field: the right shape as often as not (so a form gets filled to the end
    and submitted), hostile otherwise."""
    labels = [c.label.zh for c in spec.choices] + [c.label.en for c in spec.choices]
    fitting: dict[str, st.SearchStrategy[str]] = {
        "int": st.integers(min_value=0, max_value=1000).map(str),
        "decimal": st.decimals(min_value=0, max_value=10**6, places=2).map(str),
        "money": st.sampled_from(["3000", "1.2万", "¥50", "0", "100000000", "1,200.50元"]),
        "date": st.dates(min_value=date(2026, 11, 26), max_value=date(2027, 1, 31)).map(str),
        "region": st.sampled_from([r.label.zh for r in reports.regions]),
        "industry": st.sampled_from([i.label.zh for i in reports.industries]),
        "group": st.sampled_from(["下载量 5000 次", "注册 800 人\n下载 10", "a 1 b"]),
        "choice": st.sampled_from(labels or ["?"]),
        "multichoice": st.lists(st.sampled_from(labels or ["?"]), min_size=1).map("、".join),
        "channels": st.lists(st.sampled_from(WORDS[:20]), min_size=1, max_size=3).map(", ".join),
        # Typed where a file is asked for (the files themselves: tests/test_fuzz_files.py).
        "photo": st.sampled_from(["见附件", "照片稍后发", "done", "完成"]),
        "document": st.sampled_from(["见附件", "合同.pdf", "https://pan.example.com/f/1"]),
    }
    if spec.type in ("text", "longtext"):
        # Up to the field's limit, so cards full of long answers get drawn too.
        long = st.tuples(
            st.sampled_from(FILLERS + HTML),
            st.integers(min_value=spec.max_length // 2, max_value=spec.max_length),
        ).map(lambda p: (p[0] * p[1])[: spec.max_length])
        shaped = st.one_of(st.text(any_char, min_size=1, max_size=40), long)
    else:
        shaped = fitting[spec.type]
    shaped = shaped.map(sendable)
    return st.one_of(shaped, shaped, shaped, hostile, numbers.map(sendable), dates.map(sendable))


REPORTS = default_reports()


@dataclass(frozen=True)
class Send:
    """Type a message."""

    text: str


@dataclass(frozen=True)
class Press:
    """Tap button `button` (modulo their number) of the `back`-th newest message with buttons."""

    back: int
    button: int


def steps(answers: st.SearchStrategy[str], max_size: int = 10):
    """What a person does in a form: typed answers and taps, in any order."""
    step = st.one_of(
        answers.map(Send),
        answers.map(Send),
        st.builds(Press, st.integers(0, 2) | st.just(0), st.integers(0, 40)),
    )
    return st.lists(step, min_size=1, max_size=max_size)


def one_message(form: FormSpec) -> st.SearchStrategy[str]:
    """`/<command>` and "label: value" lines: real, partial and made-up labels, any values."""

    def line(spec: FieldSpec) -> st.SearchStrategy[str]:
        label = st.sampled_from(
            [spec.label.zh, spec.label.en, spec.key, spec.label.zh[:2], spec.label.en.upper()]
        ) | hostile.map(lambda s: s[:60])
        sep = st.sampled_from([":", "：", "? ", " : ", "？", ":\n", "：：", ""])
        return st.tuples(label, sep, answers_for(spec, REPORTS)).map("".join)

    lines = st.lists(st.one_of(*map(line, form.fields), hostile), min_size=1, max_size=14)
    return lines.map(lambda ls: sendable(f"/{form.command}\n" + "\n".join(ls)))


PREFIXES = [
    "f:v1:", "fs:v1:", "fs:v1:daily_channel:", "fs:v1:daily_channel:e:", "act:v1:ap:",
    "act:v1:rj:", "act:v1:ch:", "act:v1:cd:", "act:v1:wd:", "ch:v1:", "ch:v1:c:", "ch:v1:st:",
    "ch:v1:nr:", "ch:v1:ni:", "ch:v1:np:", "ch:v1:ls:", "fb:v1:", "fb:v1:1:n:", "fb:v1:1:p:",
    "staff:v1:", "staff:v1:show:", "staff:v1:role:", "staff:v1:hoto:", "staff:v1:list:",
    "join:v1:ok:", "join:v1:no:", "join:v1:role:", "inv:v1:role:", "lang:v1:", "kpi:v1:",
    "kpi:v1:t:", "kpi:v1:l:", "tgt:v1:", "tgt:v1:ok:", "tgt:v1:x:", "apr:v1:ok:", "apr:v1:cm:",
    "apr:v1:ch:", "apr:v1:rj:", "apr:v1:cd:", "apr:v1:wd:", "",
]  # fmt: skip
DATA_TAILS = [
    "1", "0", "-1", "99999999999999999999", "2147483648", "9223372036854775808", "٣", "²",
    "①", "1:1", "1:2:3", "::", ":", "1:", "x", "ok", "ok:", "e:2026-11-26", "e:9999-99-99",
    "n", "1:ok:", "1:n:1.2", "1:n:1.99999999999", "1:p:m9999", "1:p:z1", "1:c:99", "1:ch:0",
    "m0", "a0", "q0.<b>", "q99999999999", "director", "channel", "zh", "en", "fr", "shenyang",
    "2026-W48", "2026-Q4", "2026-13", "l:2026-11", "t:2026-11", "1:2026-11", "\x00", "\n",
]  # fmt: skip


def note(text: str) -> None:
    """Say what happened in the falsifying example's report (fixtures run outside of one)."""
    if currently_in_test_context():
        _note(text)


def fit_data(text: str) -> str:
    """Telegram carries 1–64 bytes of callback data: cut to 64 (on a character), never empty."""
    return text.encode()[:MAX_DATA].decode("utf-8", "ignore") or "?"


@dataclass(frozen=True)
class Bend:
    """The data of a real button (the `pick`-th, modulo), bent: kept, a part swapped, parts cut,
    or something added. Real data depends on what earlier examples did, so it is chosen when the
    test runs, never inside a strategy (Hypothesis must be able to replay every draw)."""

    pick: int
    how: str
    at: int
    extra: str

    def apply(self, real: list[str]) -> str:
        if not real:
            return fit_data(self.extra)
        data = real[self.pick % len(real)]
        parts = data.split(":")
        if self.how == "swap":
            parts[self.at % len(parts)] = self.extra
            data = ":".join(parts)
        elif self.how == "cut":
            data = ":".join(parts[: max(1, len(parts) - 1 - self.at % len(parts))])
        elif self.how == "add":
            data = f"{data}:{self.extra}"
        elif self.how == "glue":
            data += self.extra
        return fit_data(data)


ID_LIKE = ["0", "1", "2", "3", "-1", "²", "٣", "①", "", "x", "01", "1.5", "1e3", " 1"]
segment = st.one_of(
    st.sampled_from(DATA_TAILS + ID_LIKE),
    st.integers(min_value=-5, max_value=10**25).map(str),
    st.sampled_from(["2147483648", "9223372036854775807", "9223372036854775808", "9" * 30]),
    random_text,
)


def callback_data() -> st.SearchStrategy[str | Bend]:
    """Forged callback data: known prefixes with made-up parts, real data bent, random text or
    bytes."""
    structured = st.tuples(st.sampled_from(PREFIXES), st.lists(segment, max_size=5)).map(
        lambda p: fit_data(p[0] + ":".join(p[1]))
    )
    bent = st.builds(
        Bend,
        st.integers(0, 10**6),
        st.sampled_from(["keep", "swap", "swap", "swap", "cut", "add", "glue"]),
        st.integers(0, 10),
        segment,
    )
    return st.one_of(
        structured,
        structured,
        bent,
        bent,
        st.text(any_char, min_size=1, max_size=MAX_DATA).map(fit_data),
        st.binary(min_size=1, max_size=MAX_DATA).map(
            lambda b: fit_data(b.decode("utf-8", "replace"))
        ),
    )


# ---- the referee ------------------------------------------------------------------------------


@dataclass
class Referee:
    """Drives personas and checks every update: nothing raised, Telegram refused nothing, and
    the person got an answer."""

    app: Application
    sim: TelegramSimulator
    errors: list[BaseException] = field(default_factory=list)
    apologies: set[str] = field(default_factory=set)
    tracebacks: list[logging.LogRecord] = field(default_factory=list)

    async def collect(self, update: object, context) -> None:
        """An extra error handler: PTB calls every registered one, so this sees each failure."""
        self.errors.append(context.error)

    async def send(self, person: Persona, text: str, **kwargs) -> SimMessage:
        """`person` sends `text`; in a private chat the bot must answer."""
        mark = len(self.sim.calls)
        note(f"{person.first_name} sends {text!r}")
        message = await person.send(text, **kwargs)
        self.check(mark, answer_in=None if kwargs.get("chat") else person.id)
        return message

    async def forward(self, person: Persona, text: str, **kwargs) -> None:
        """`person` forwards a message with `text` to the bot, which must answer."""
        mark = len(self.sim.calls)
        note(f"{person.first_name} forwards {text!r} {kwargs}")
        await person.forward(text, **kwargs)
        self.check(mark, answer_in=person.id)

    async def edit(self, person: Persona, message: SimMessage, text: str) -> None:
        """`person` edits one of their messages; the bot must answer (it acts on new ones only)."""
        mark = len(self.sim.calls)
        note(f"{person.first_name} edits message {message.message_id} into {text!r}")
        await person.edit(message, text)
        self.check(mark, answer_in=person.id)

    async def press(self, person: Persona, message: SimMessage, data: str) -> CallbackAnswer:
        """`person` taps (real or forged) `data` on `message`; the query must be answered."""
        mark = len(self.sim.calls)
        note(f"{person.first_name} presses {data!r} on message {message.message_id}")
        answer = await person.press_data(message.message_id, message.chat_id, data)
        self.check(mark)
        assert answer is not None, f"the bot never answered the press {data!r}"
        return answer

    async def press_nth(self, person: Persona, back: int, button: int) -> None:
        """Tap a real button under one of the newest messages in `person`'s chat, if any."""
        with_buttons = [
            m for m in person.inbox if any(b.callback_data for row in m.buttons for b in row)
        ]
        if not with_buttons:
            return
        message = with_buttons[-1 - back % len(with_buttons)]
        data = [b.callback_data for row in message.buttons for b in row if b.callback_data]
        await self.press(person, message, data[button % len(data)])

    def check(self, mark: int, answer_in: int | None = None) -> None:
        """Nothing failed since call number `mark`; something reached `answer_in` (a chat)."""
        # Cleared once reported: the next example starts clean, so a failure never shrinks to
        # whatever example happens to run after it.
        errors, self.errors = self.errors, []
        if errors:
            raise errors[0]
        logged, self.tracebacks[:] = list(self.tracebacks), []
        assert not logged, "an ERROR with a traceback was logged: " + "; ".join(
            f"{r.name}: {r.getMessage()} ({r.exc_info[1]!r})" for r in logged
        )
        crashes, self.sim.errors[:] = list(self.sim.errors), []
        assert not crashes, f"the simulator itself failed: {crashes}"
        calls = self.sim.calls[mark:]
        refused = [c for c in calls if c.error_code == 400 and HARMLESS_400 not in _why(c)]
        assert not refused, "Telegram would refuse: " + "; ".join(_show(c) for c in refused)
        for c in calls:
            text = c.params.get("text")
            assert not (c.ok and text in self.apologies), "the bot apologised for a failure"
        if answer_in is not None:
            answered = [
                c
                for c in calls
                if c.ok and c.method in REPLY_METHODS and c.params.get("chat_id") == answer_in
            ]
            assert answered, f"no answer in chat {answer_in}; calls: {[c.method for c in calls]}"


def _why(call: ApiCall) -> str:
    return (call.error_description or "").lower()


def _show(call: ApiCall) -> str:
    text = str(call.params.get("text") or call.params.get("caption") or "")
    return f"{call.method} {call.error_description!r} ({utf16_len(text)} units: {text[:300]!r})"


def referee(app: Application, sim: TelegramSimulator) -> Referee:
    """A referee wired into `app` as a second error handler."""
    ref = Referee(app, sim, apologies={render("error.html.j2", loc) for loc in ("zh", "en")})
    app.add_error_handler(ref.collect)
    return ref


class TracebackLog(logging.Handler):
    """Keeps every ERROR (or worse) logged with a traceback: what pages a person at night."""

    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.into.append(record)


# ---- photos, documents and captions (tests/test_fuzz_files.py) -------------------------------

MAX_CAPTION = 4096  # what a Telegram (Premium) client lets a person write under a file
ODD_MIME_TYPES = [
    "", "application/octet-stream", "application/pdf", "image/png", "image/svg+xml",
    "text/html", "text/html; charset=<b>", "application/x-msdownload", "video/mp4",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "../../etc",
    "a" * 255, "图片/中文", "<script>", "\x00", "image/", "/", "x-unknown/x-unknown",
]  # fmt: skip
ODD_FILE_NAMES = [
    "", "receipt.jpg", "发票.pdf", "../../etc/passwd", "..", ".", "a" * 255 + ".pdf",
    "<b>&.pdf", "file?x=1#y.pdf", "space name .docx", "\u202egnp.exe", "emoji👍🏽.xlsx",
    "CON", "nul.txt", "x.", ".hidden", "a/b\\c.txt", "%00.pdf", "\x00.pdf", "🏳️‍🌈" * 40,
]  # fmt: skip
COMMAND_CAPTIONS = [
    "/start", "/cancel", "/daily", "/help", "/assign", "/feedback 闪退", "/nosuch",
    "/start@opsbot_test_bot", "@opsbot_test_bot 看这个", "/export 2026-10", "/kpi <b>&",
]  # fmt: skip
captions = st.one_of(
    st.just(""),
    st.sampled_from(COMMAND_CAPTIONS),
    hostile.map(lambda s: clip(s, MAX_CAPTION)),
    st.sampled_from(HTML + UNICODE + WORDS),
    st.just(clip("<b>&中" * 1000, MAX_CAPTION)),  # the longest a client sends
)
file_names = st.one_of(st.sampled_from(ODD_FILE_NAMES), random_text)
mime_types = st.one_of(st.sampled_from(ODD_MIME_TYPES), ascii_noise)


@dataclass(frozen=True)
class Photo:
    """Send a photo `width` x `height` with `caption`."""

    width: int
    height: int
    caption: str


@dataclass(frozen=True)
class Document:
    """Send a document of `data` named `name`, declared as `mime_type`, with `caption`."""

    data: bytes
    name: str
    mime_type: str
    caption: str


@dataclass(frozen=True)
class Album:
    """Send an album of `count` photos (or documents) with `caption` on the first."""

    count: int
    documents: bool
    caption: str


@dataclass(frozen=True)
class Declared:
    """A file whose update declares what no client sends: a huge size, a 5,000-character
    caption, a photo of absurd dimensions (delivered as a raw update)."""

    kind: str
    size: int
    caption: str


@dataclass(frozen=True)
class Forwarded:
    """Forward someone else's photo or document with `caption` (a hidden sender when `hidden`)."""

    kind: str
    caption: str
    hidden: bool


photo_sizes = st.sampled_from([(1, 1), (640, 480), (2000, 100), (100, 2000), (4000, 3000)])
photos = st.builds(lambda wh, c: Photo(wh[0], wh[1], c), photo_sizes, captions)
documents = st.builds(
    Document, st.binary(min_size=1, max_size=64), file_names, mime_types, captions
)
albums = st.builds(Album, st.integers(2, 10), st.booleans(), captions)
declared = st.builds(
    Declared,
    st.sampled_from(["photo", "document"]),
    st.sampled_from([0, 20 * 1024 * 1024 + 1, 2**31, 4 * 1024**3, 2**53]),
    st.one_of(st.just(""), st.just("<b>&中" * 1250), st.sampled_from(COMMAND_CAPTIONS)),
)
forwarded = st.builds(Forwarded, st.sampled_from(["photo", "document"]), captions, st.booleans())
file_moves = st.one_of(photos, photos, documents, documents, albums, declared, forwarded)


async def send_file(ref: Referee, person: Persona, move, chat=None) -> None:
    """`person` sends the file `move` describes (in `chat`, or privately); in a private chat the
    bot must answer, as for any message."""
    from bot.simulator.samples import png

    mark = len(ref.sim.calls)
    note(f"{person.first_name} sends {move!r}" + (f" in {chat}" if chat else ""))
    if isinstance(move, Photo):
        await person.send_photo(png(move.width, move.height), caption=move.caption, chat=chat)
    elif isinstance(move, Document):
        await person.send_document(
            move.data, filename=move.name, mime_type=move.mime_type, caption=move.caption, chat=chat
        )
    elif isinstance(move, Album):
        kind = "document" if move.documents else "photo"
        items = [(kind, png(10 + i, 10), f"{i}.png") for i in range(move.count)]
        await person.send_album(items, caption=move.caption, chat=chat)
    elif isinstance(move, Forwarded):
        await _forwarded(ref.sim, person, move, chat)
    else:
        await _declared(ref.sim, person, move, chat)
    ref.check(mark, answer_in=None if chat else person.id)


async def _forwarded(sim: TelegramSimulator, person: Persona, move: Forwarded, chat) -> None:
    """Deliver a forwarded photo or document (Persona.forward carries text only)."""
    from bot.simulator.samples import png

    upload = sim.user_file(png(3, 3), "f.png", "image/png", move.kind)
    if move.hidden:
        origin = {"type": "hidden_user", "sender_user_name": "某人 <b>", "date": sim.now()}
    else:
        stranger = sim.user(9_999_001, "转发来源")
        origin = {"type": "user", "sender_user": stranger.user_dict, "date": sim.now()}
    msg = sim.store_user_message(person, chat.id if chat else person.id, None, {})
    msg.extra["forward_origin"] = origin
    setattr(msg, move.kind, upload)
    caption = move.caption.strip()
    if caption:
        msg.caption = msg.plain = caption
    if chat is None:
        person.started = True
    await sim.dispatch({"message": sim.message_dict(msg)})


async def _declared(sim: TelegramSimulator, person: Persona, move: Declared, chat) -> None:
    """Deliver a file update with sizes (and a caption) no Telegram client would send."""
    from bot.simulator.samples import png

    upload = sim.user_file(png(2, 2), "x.png", "image/png", move.kind)
    msg = sim.store_user_message(person, chat.id if chat else person.id, None, {})
    setattr(msg, move.kind, upload)
    if move.caption:
        msg.caption = msg.plain = move.caption
    data = sim.message_dict(msg)
    if move.kind == "photo":
        for size in data["photo"]:
            size.update(width=100_000, height=1, file_size=move.size)
    else:
        data["document"]["file_size"] = move.size
    if chat is None:
        person.started = True
    await sim.dispatch({"message": data})
