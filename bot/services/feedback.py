"""User feedback items: capture, repeats counted up, author-only edits, and the week's summary."""

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, exists, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.calendar import Period
from bot.i18n import N_
from bot.models import Channel, Feedback, Report, Staff
from bot.render import render
from bot.services import audit
from bot.services.errors import ServiceError

CATEGORIES = ("bug", "feature", "experience", "pricing", "content", "other")
SEGMENTS = ("opinion_leader", "heavy", "light", "new")
SEVERITIES = ("low", "medium", "high")
SOURCES = ("command", "forward")
CATEGORY_LABELS = {
    "bug": N_("Bug"),
    "feature": N_("Feature request"),
    "experience": N_("Experience"),
    "pricing": N_("Pricing"),
    "content": N_("Content"),
    "other": N_("Other"),
}
SEGMENT_LABELS = {
    "opinion_leader": N_("Opinion leader"),
    "heavy": N_("Heavy user"),
    "light": N_("Light user"),
    "new": N_("New user"),
}
SEVERITY_LABELS = {"low": N_("Low"), "medium": N_("Medium"), "high": N_("High")}

MAX_TEXT = 2000
MIN_COUNT = 1
MAX_COUNT = 100_000
NORM_MAX = 255
FORWARDED_FROM_MAX = 128
TOP = 5
# The weekly form whose filing freezes the week's items (its answers were built from them).
SUMMARY_FORM = "weekly_feedback"
# Marks a report answer that holds the week's figures rather than text (decision 39).
WEEK_VALUE = "feedback:week"
EDITABLE = ("category", "segment", "severity", "count", "channel_id")

# Chinese keywords match anywhere; English ones at the start of a word, so "crash" finds
# "crashes" but "add" does not find "address". 卡 (laggy) is not the 卡 of 银行卡 or 卡号.
_ZH = {
    "bug": "崩溃|闪退|报错|出错|错误|故障|打不开|进不去|白屏|黑屏|死机|失败|异常",
    "pricing": "(?<![宝珍富])贵(?!公司)|价格|价钱|收费|费用|便宜|涨价|降价|手续费|会员费|定价|优惠",
    "experience": "慢|(?<![银行会员信用储蓄])卡(?![片号券包])|难用|不好用|界面|麻烦|复杂|找不到|"
    "不方便|体验|看不懂",
    "content": "文章|内容|资讯|文案|视频|公众号",
    "feature": "希望|建议|能不能|能否|可不可以|可否|增加|添加|新增|加个|加一个|支持|想要|功能",
}
_EN = {
    "bug": r"bug|crash|error|broken|fail|freez|glitch|(?:does ?n[o']?t|not|won'?t) work",
    "pricing": r"pric|expensive|cost|fees?\b|cheap|subscription",
    "experience": r"slow|lag|confus|hard to|clunky|ui\b|ux\b|interface|layout|unclear|difficult",
    "content": r"content|articles?\b|posts?\b|news\b",
    "feature": r"feature|add\b|adding\b|wish|would (?:be nice|like)|please support|could you|"
    r"suggest|request",
}
# Specific subjects first, wishes last: "希望便宜点" is about pricing, "能不能别这么卡" about
# experience; 希望/建议/add appear in almost any suggestion, so they decide only when nothing
# more specific does.
_RULES = tuple(
    (category, re.compile(f"{_ZH[category]}|\\b(?:{_EN[category]})"))
    for category in ("bug", "pricing", "experience", "content", "feature")
)


class FeedbackError(ServiceError):
    """A feedback change that cannot be made; `reason` is a stable code for the message."""


@dataclass(frozen=True)
class WeekSummary:
    """One week's feedback in figures, as the weekly summary is pre-filled from it."""

    week_key: str
    total_items: int
    total_mentions: int
    # Mentions (the sum of counts) per category, every category present, zeros included.
    by_category: dict[str, int]
    previous_by_category: dict[str, int]
    top: list[Feedback]
    channels: list[tuple[str, int]]
    # Mentions per user segment (items without a segment are left out).
    by_segment: dict[str, int] = field(default_factory=dict)


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    # Emoji and other symbols go too: "闪退了！！😡" repeats "闪退了".
    kept = "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "PSZC")
    # Feedback of nothing but symbols ("👍👍") still needs a key of its own.
    return kept or "".join(folded.split())


def normalise(text: str) -> str:
    """The form used to spot repeats: NFKC, casefolded, without spaces or punctuation; ≤ 255."""
    return _fold(text)[:NORM_MAX]


def suggest_category(text: str) -> str:
    """The category keywords in the text suggest (zh and en); "other" when none does."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return next((category for category, rule in _RULES if rule.search(folded)), "other")


def clean_text(text: str) -> str:
    """Feedback as stored: stripped; FeedbackError("empty") or ("too_long", length, max)."""
    text = (text or "").strip()
    if not text:
        raise FeedbackError("empty")
    if len(text) > MAX_TEXT:
        raise FeedbackError("too_long", length=len(text), max=MAX_TEXT)
    return text


def _check_count(count: object) -> int:
    # bool is an int in Python; True users is not a count.
    if isinstance(count, bool) or not isinstance(count, int) or not MIN_COUNT <= count <= MAX_COUNT:
        raise FeedbackError("bad_count", min=MIN_COUNT, max=MAX_COUNT)
    return count


async def record(
    session: AsyncSession,
    author: Staff,
    text: str,
    *,
    week_key: str,
    source: str = "command",
    forwarded_from: str | None = None,
    count: int = 1,
) -> tuple[Feedback, bool]:
    """Record feedback; (item, merged).

    When the week already holds the same feedback (same normalised text, by anyone) its count
    goes up by `count` and merged is True. In a week whose summary is filed the items are
    frozen, so the feedback is kept as a new item rather than lost or merged.
    """
    text = clean_text(text)
    count = _check_count(count)
    if source not in SOURCES:
        raise ValueError(f"unknown feedback source {source!r}")
    Period.parse(week_key)  # a bad key is a programming error, not bad input
    locked = await is_locked(session, week_key)
    existing = None if locked else await _same_text(session, week_key, text)
    if existing is not None:
        await _count_up(session, existing, count)
        await audit.record(
            session, author.telegram_id, "feedback.merge", f"feedback:{existing.id}", by=count
        )
        return existing, True
    now = clock.now()
    origin = " ".join((forwarded_from or "").split())[:FORWARDED_FROM_MAX] or None
    item = Feedback(
        author_id=author.id,
        week_key=week_key,
        text=text,
        norm_text=normalise(text),
        category=suggest_category(text),
        segment=None,
        severity="medium",
        count=count,
        channel_id=None,
        source=source,
        forwarded_from=origin,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    await session.flush()
    await audit.record(
        session, author.telegram_id, "feedback.create", f"feedback:{item.id}", source=source
    )
    return item, False


async def _same_text(session: AsyncSession, week_key: str, text: str) -> Feedback | None:
    """The week's oldest item with the same feedback (the stored key is clipped: compare all)."""
    query = (
        select(Feedback)
        .where(Feedback.week_key == week_key, Feedback.norm_text == normalise(text))
        .order_by(Feedback.id)
    )
    folded = _fold(text)
    return next((f for f in await session.scalars(query) if _fold(f.text) == folded), None)


async def _count_up(session: AsyncSession, item: Feedback, by: int) -> None:
    # In SQL, so two people counting the same item at once add up instead of overwriting.
    added = Feedback.count + by
    await session.execute(
        sql_update(Feedback)
        .where(Feedback.id == item.id)
        .values(count=case((added > MAX_COUNT, MAX_COUNT), else_=added), updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(item)


async def same_as(session: AsyncSession, author: Staff, item_id: int, week_key: str) -> Feedback:
    """Count one more user for this week's item `item_id` ("same as #12"), whoever recorded it."""
    item = await session.get(Feedback, item_id)
    if item is None:
        raise FeedbackError("not_found")
    if item.week_key != week_key:
        raise FeedbackError("not_this_week")
    if await is_locked(session, week_key):
        raise FeedbackError("locked")
    await _count_up(session, item, 1)
    await audit.record(session, author.telegram_id, "feedback.same_as", f"feedback:{item.id}")
    return item


async def get(session: AsyncSession, item_id: int) -> Feedback | None:
    """An item by id, whoever recorded it."""
    return await session.get(Feedback, item_id)


async def get_own(session: AsyncSession, author: Staff, item_id: int) -> Feedback:
    """An item `author` may change: FeedbackError("not_found", "not_yours" or "locked")."""
    item = await session.get(Feedback, item_id)
    if item is None:
        raise FeedbackError("not_found")
    await _check_editable(session, author, item)
    return item


async def _check_editable(session: AsyncSession, author: Staff, item: Feedback) -> None:
    if item.author_id != author.id:
        raise FeedbackError("not_yours")
    if await is_locked(session, item.week_key):
        raise FeedbackError("locked")


async def update(session: AsyncSession, author: Staff, item: Feedback, **changes) -> Feedback:
    """Change category, segment, severity, count or channel_id of the author's own item.

    A count change is conditional on the count this session read, so a repeat counted by
    someone else meanwhile is not overwritten: FeedbackError("stale") instead.
    """
    await _check_editable(session, author, item)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValueError(f"feedback fields that cannot be changed: {unknown}")
    values = {key: _checked(key, value) for key, value in changes.items()}
    channel_id = values.get("channel_id")
    if channel_id is not None and await session.get(Channel, channel_id) is None:
        raise FeedbackError("unknown_channel")
    where = [Feedback.id == item.id]
    if "count" in values:
        where.append(Feedback.count == item.count)
    changed = await session.execute(
        sql_update(Feedback)
        .where(*where)
        .values(**values, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(item)
    if changed.rowcount != 1:
        raise FeedbackError("stale")
    await audit.record(
        session, author.telegram_id, "feedback.update", f"feedback:{item.id}", **values
    )
    return item


def _checked(key: str, value: object) -> object:
    if key == "count":
        return _check_count(value)
    if key == "category" and value not in CATEGORIES:
        raise FeedbackError("unknown_category")
    if key == "segment" and value is not None and value not in SEGMENTS:
        raise FeedbackError("unknown_segment")
    if key == "severity" and value not in SEVERITIES:
        raise FeedbackError("unknown_severity")
    if key == "channel_id":
        # 0 (the picker's "none") clears it like None.
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise FeedbackError("unknown_channel")
        return value or None
    return value


async def remove(session: AsyncSession, author: Staff, item: Feedback) -> None:
    """Delete the author's own item (until the week's summary is filed)."""
    await _check_editable(session, author, item)
    await audit.record(
        session,
        author.telegram_id,
        "feedback.remove",
        f"feedback:{item.id}",
        text=item.text[:200],
        count=item.count,
    )
    await session.delete(item)
    await session.flush()


async def this_week(session: AsyncSession, week_key: str) -> list[Feedback]:
    """The week's items, most-raised first, then newest."""
    query = (
        select(Feedback)
        .where(Feedback.week_key == week_key)
        .order_by(Feedback.count.desc(), Feedback.created_at.desc(), Feedback.id.desc())
    )
    return list(await session.scalars(query))


async def authors(session: AsyncSession, items: list[Feedback]) -> dict[int, Staff]:
    """The people who recorded `items`, by staff id."""
    ids = {item.author_id for item in items}
    if not ids:
        return {}
    return {s.id: s for s in await session.scalars(select(Staff).where(Staff.id.in_(ids)))}


async def is_locked(session: AsyncSession, week_key: str) -> bool:
    """Whether the week's feedback summary has been filed (its items are then frozen)."""
    filed = exists().where(Report.form_key == SUMMARY_FORM, Report.period_key == week_key)
    return bool(await session.scalar(select(filed)))


async def week_summary(session: AsyncSession, week_key: str) -> WeekSummary:
    """The week in figures: items, mentions per category (and last week's), top items, channels."""
    items = await this_week(session, week_key)
    by_category = dict.fromkeys(CATEGORIES, 0)
    by_segment = dict.fromkeys(SEGMENTS, 0)
    for item in items:
        by_category[item.category] = by_category.get(item.category, 0) + item.count
        if item.segment:
            by_segment[item.segment] = by_segment.get(item.segment, 0) + item.count
    previous_key = Period.parse(week_key).previous().key
    previous = await session.execute(
        select(Feedback.category, func.sum(Feedback.count))
        .where(Feedback.week_key == previous_key)
        .group_by(Feedback.category)
    )
    previous_by_category = dict.fromkeys(CATEGORIES, 0)
    previous_by_category.update({category: int(n) for category, n in previous})
    mentions = func.sum(Feedback.count)
    channels = await session.execute(
        select(Channel.name, mentions)
        .join(Feedback, Feedback.channel_id == Channel.id)
        .where(Feedback.week_key == week_key)
        .group_by(Channel.id, Channel.name)
        .order_by(mentions.desc(), Channel.name)
    )
    return WeekSummary(
        week_key=week_key,
        total_items=len(items),
        total_mentions=sum(item.count for item in items),
        by_category=by_category,
        previous_by_category=previous_by_category,
        top=items[:TOP],
        channels=[(name, int(n)) for name, n in channels],
        by_segment=by_segment,
    )


def week_value(summary: WeekSummary) -> dict[str, Any]:
    """The week's figures as a report answer (JSON), rendered for each reader by week_text.

    Only the feedback texts and channel names are words a person typed; everything else is
    a number or a key, so the summary reads in the director's and the group's language too.
    """
    return {
        "generated": WEEK_VALUE,
        "week_key": summary.week_key,
        "total_items": summary.total_items,
        "total_mentions": summary.total_mentions,
        "by_category": dict(summary.by_category),
        "previous_by_category": dict(summary.previous_by_category),
        "top": [{"text": item.text, "count": item.count} for item in summary.top],
        "channels": [[name, n] for name, n in summary.channels],
    }


def is_week_value(value: object) -> bool:
    """Whether a stored answer is week_value's figures (not text someone typed)."""
    return isinstance(value, dict) and value.get("generated") == WEEK_VALUE


def week_text(value: dict[str, Any], locale: str) -> str:
    """The week's summary from week_value's figures, as plain text in `locale`."""
    return render(
        "feedback_week.txt.j2", locale, summary=_figures(value), categories=CATEGORY_LABELS
    )


def _figures(value: dict[str, Any]) -> dict[str, Any]:
    # Stored JSON is read back whatever it holds: a missing or odd figure shows as 0, not a crash.
    def number(n: object) -> int:
        return n if isinstance(n, int) and not isinstance(n, bool) else 0

    def per_category(key: str) -> dict[str, int]:
        found = value.get(key)
        return {str(k): number(n) for k, n in found.items()} if isinstance(found, dict) else {}

    def listed(key: str, kind: type) -> list:
        found = value.get(key)
        if not isinstance(found, list):
            return []
        return [entry for entry in found if isinstance(entry, kind)]

    return {
        "total_items": number(value.get("total_items")),
        "total_mentions": number(value.get("total_mentions")),
        "by_category": per_category("by_category"),
        "previous_by_category": per_category("previous_by_category"),
        "top": [
            {"text": str(item.get("text", "")), "count": number(item.get("count"))}
            for item in listed("top", dict)
        ],
        "channels": [(str(p[0]), number(p[1])) for p in listed("channels", list) if len(p) == 2],
    }
