"""The channel resource library (渠道资源库): enterprises, their pipeline stage, and its history."""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    case,
    distinct,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot import clock, pinyin
from bot.db import connection
from bot.forms.spec import Choice, default_reports
from bot.i18n import N_
from bot.models import Channel, ChannelStageChange, Staff
from bot.services import audit, prompts
from bot.services import staff as staff_service
from bot.services.errors import ServiceError

# 线索 / 已接触 / 洽谈中 / 已签约 / 已交付上线 / 已流失
STAGES = ("lead", "contacted", "negotiating", "signed", "live", "lost")
DIFFICULTIES = ("easy", "medium", "hard")
STAGE_LABELS = {
    "lead": N_("Lead"),
    "contacted": N_("Contacted"),
    "negotiating": N_("Negotiating"),
    "signed": N_("Signed"),
    "live": N_("Delivered / live"),
    "lost": N_("Lost"),
}
DIFFICULTY_LABELS = {"easy": N_("Easy"), "medium": N_("Medium"), "hard": N_("Hard")}
# What `/channel set` may change; region, industry and stage have their own rules.
FIELDS = ("name", "contact", "phone", "notes", "difficulty")

NAME_MAX = 128
CONTACT_MAX = 64
NOTES_MAX = 1000
# Who started adding what, and when: history only (the draft itself is a prompt).
DRAFT_ACTION = "channel.add_started"

# Longest first, and repeated, so 万科物业服务集团股份有限公司 loses every legal suffix.
_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "责任公司",
    "分公司",
    "公司",
    "集团",
    "股份",
    "coltd",
    "limited",
    "ltd",
    "inc",
    "corp",
    "company",
    "group",
)
_PHONE = re.compile(r"^\+?[\d\s-]+$")
_CONTACT_WITH_PHONE = re.compile(r"^(?P<name>.*?)[\s,，、:：]*(?P<phone>\+?\d[\d\s-]*)$", re.S)


class ChannelError(ServiceError):
    """A library change that cannot be made; `reason` is a stable code for the message."""


@dataclass(frozen=True)
class DayStats:
    """One person's library work on one team-local day."""

    created: int
    moved_to: dict[str, int] = field(default_factory=dict)
    in_stage: dict[str, int] = field(default_factory=dict)


CARD_CHANGES = 5  # the latest stage changes a card shows


@dataclass(frozen=True)
class Card:
    """Everything a channel card shows: the channel, its owner and its latest stage changes."""

    channel: Channel
    owner: Staff | None
    changes: list[tuple[ChannelStageChange, Staff | None]]

    def after(self, change: ChannelStageChange, by: Staff) -> "Card":
        """The card once `change` (by `by`) is made: no need to read the history again."""
        latest = [*self.changes, (change, by)][-CARD_CHANGES:]
        return Card(self.channel, self.owner, latest)


def normalise(name: str) -> str:
    """The form of a name used to find duplicates: 万科物业有限公司 and 万科 物业 are the same."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PSZC")
    stripped = _strip_suffixes(text)
    # A name of nothing but punctuation ("！！！") still needs a key of its own.
    return (stripped or text or name.strip().casefold())[:NAME_MAX]


def _strip_suffixes(text: str) -> str:
    while True:
        suffix = next((s for s in _SUFFIXES if text.endswith(s) and text != s), None)
        if suffix is None:
            return text
        text = text[: -len(suffix)]


def clean_name(name: str) -> str:
    """A name as stored: whitespace runs collapsed; ChannelError when empty or too long."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ChannelError("name_empty")
    if len(cleaned) > NAME_MAX:
        raise ChannelError("name_too_long", max=NAME_MAX)
    return cleaned


def clean_phone(phone: str) -> str:
    """A phone number as stored: digits, +, - and spaces with 6–20 digits, else ChannelError."""
    cleaned = " ".join(phone.split())
    digits = sum(ch.isdigit() for ch in cleaned)
    if not _PHONE.match(cleaned) or "+" in cleaned[1:] or not 6 <= digits <= 20:
        raise ChannelError("bad_phone")
    return cleaned


def split_contact(text: str) -> tuple[str | None, str | None]:
    """Split "张三 138 0000 0000" into a contact name and a phone; either may be missing."""
    text = " ".join(text.split())
    match = _CONTACT_WITH_PHONE.match(text)
    if match and sum(ch.isdigit() for ch in match["phone"]) >= 6:
        name, phone = match["name"].strip(), clean_phone(match["phone"])
    else:
        name, phone = text, None
    if len(name) > CONTACT_MAX:
        raise ChannelError("contact_too_long", max=CONTACT_MAX)
    return name or None, phone


def _known(key: str, choices: Sequence[Choice] | None) -> bool:
    # Without the configured choices the caller vouches for the key; only its shape is checked.
    if choices is None:
        return 0 < len(key) <= 32
    return key in {c.key for c in choices}


async def find_duplicate(session: AsyncSession, name: str, region: str) -> Channel | None:
    """The newest channel with the same normalised name in the same region, if any."""
    query = (
        select(Channel)
        .where(Channel.norm_name == normalise(name), Channel.region == region)
        .order_by(Channel.id.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def create(
    session: AsyncSession,
    *,
    name: str,
    industry: str,
    region: str,
    actor: Staff,
    day: date,
    contact: str | None = None,
    phone: str | None = None,
    difficulty: str | None = None,
    notes: str | None = None,
    owner: Staff | None = None,
    regions: Sequence[Choice] | None = None,
    industries: Sequence[Choice] | None = None,
) -> Channel:
    """Add a channel at stage "lead", owned by `owner` (default: the actor).

    Pass `regions`/`industries` (settings.reports) to check the keys against the configured
    choices. `day` is the team-local day the creation counts for (the caller's today in
    settings.team.tz). Does not look for duplicates: call find_duplicate first.
    """
    name = clean_name(name)
    if not _known(region, regions):
        raise ChannelError("unknown_region")
    if not _known(industry, industries):
        raise ChannelError("unknown_industry")
    now = clock.now()
    channel = Channel(
        name=name,
        norm_name=normalise(name),
        industry=industry,
        region=region,
        contact=_checked_contact(contact),
        phone=clean_phone(phone) if phone else None,
        stage="lead",
        difficulty=_checked_difficulty(difficulty),
        owner_id=(owner or actor).id,
        notes=_checked_notes(notes),
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(channel)
    await session.flush()
    session.add(
        ChannelStageChange(
            channel_id=channel.id,
            from_stage=None,
            to_stage="lead",
            by_staff_id=actor.id,
            at=now,
            day=day,
        )
    )
    await audit.record(
        session, actor.telegram_id, "channel.create", f"channel:{channel.id}", name=name
    )
    return channel


async def set_stage(
    session: AsyncSession,
    channel: Channel,
    stage: str,
    actor: Staff,
    day: date,
    *,
    expected: str | None = None,
) -> ChannelStageChange | None:
    """Move a channel to `stage`; None when it is already there.

    With `expected`, the move happens only if the channel is still in that stage (a button on an
    old card); otherwise, or when someone else moved it at the same moment, ChannelError("stale").
    """
    if stage not in STAGES:
        raise ChannelError("unknown_stage")
    before = channel.stage
    if expected is not None and before != expected:
        raise ChannelError("stale")
    if before == stage:
        return None
    now = clock.now()
    move = {"channel_id": channel.id, "before": before, "after": stage, "at": now}
    change = ChannelStageChange(
        channel_id=channel.id, from_stage=before, to_stage=stage, by_staff_id=actor.id, at=now,
        day=day,
    )  # fmt: skip
    entry = audit.entry_of(actor.telegram_id, "channel.stage", f"channel:{channel.id}",
                           before=before, after=stage, day=day.isoformat())  # fmt: skip
    conn = await connection(session)
    if conn.dialect.name == "postgresql":
        # What the transaction wrote before comes first, in order (pending objects, held audit
        # entries; a press has none). Then the move, its history row and its audit entry in
        # one statement (one round trip): the row and the entry only if the move was made.
        await session.flush()
        await audit.write_held(session)
        params = move | {"by": actor.id, "day": day} | audit.as_params([entry])
        change.id = (await conn.execute(_move_recorded(), params)).scalar()
        if change.id is None:
            raise ChannelError("stale")
    else:
        # Conditional, so two people pressing at once make one change, not two.
        if (await session.execute(_MOVE, move)).rowcount != 1:
            raise ChannelError("stale")
        session.add(change)
        await audit.add(session, entry)
    # As the UPDATE left it, without marking the object changed (nothing more to write).
    set_committed_value(channel, "stage", stage)
    set_committed_value(channel, "updated_at", now)
    return change


# Built once (a stage button runs it; see staff._BY_TELEGRAM_ID), on the table: the ORM would
# annotate it afresh on every run. Its parameters are not named after the columns, which an
# UPDATE keeps for its SET clause.
_CHANNELS = Channel.__table__
_MOVE = (
    update(_CHANNELS)
    .where(_CHANNELS.c.id == bindparam("channel_id"), _CHANNELS.c.stage == bindparam("before"))
    .values(stage=bindparam("after"), updated_at=bindparam("at"))
)


@cache
def _move_recorded():
    """PostgreSQL: `_MOVE`, then its history row and its audit entry only if it moved; the new
    history row's id, or none when the channel had left `before`."""
    moved = _MOVE.returning(_CHANNELS.c.id).cte("moved")
    changes = ChannelStageChange.__table__
    given = {"from_stage": "before", "to_stage": "after", "by_staff_id": "by", "at": "at",
             "day": "day"}  # fmt: skip
    values = select(moved.c.id, *(bindparam(p, type_=changes.c[c].type) for c, p in given.items()))
    columns = ("channel_id", *given)
    recorded = insert(changes).from_select(columns, values).returning(changes.c.id).cte("recorded")
    return select(recorded.c.id).add_cte(moved, recorded, audit.as_cte(1, moved))


async def set_field(
    session: AsyncSession, channel: Channel, field_name: str, value: str, actor: Staff
) -> None:
    """Change one detail (FIELDS); "-" or empty clears it. `contact` may carry a phone too."""
    value = value.strip()
    clear = value in ("", "-")
    if field_name not in FIELDS:
        raise ChannelError("unknown_field")
    if field_name == "name":
        channel.name = clean_name(value)
        channel.norm_name = normalise(channel.name)
    elif field_name == "contact":
        channel.contact, channel.phone = (None, None) if clear else split_contact(value)
    elif field_name == "phone":
        channel.phone = None if clear else clean_phone(value)
    elif field_name == "notes":
        channel.notes = None if clear else _checked_notes(value)
    else:
        channel.difficulty = None if clear else _checked_difficulty(value.casefold())
    channel.updated_at = clock.now()
    await audit.record(
        session, actor.telegram_id, "channel.update", f"channel:{channel.id}", field=field_name
    )


def _checked_contact(contact: str | None) -> str | None:
    contact = " ".join((contact or "").split())
    if len(contact) > CONTACT_MAX:
        raise ChannelError("contact_too_long", max=CONTACT_MAX)
    return contact or None


def _checked_notes(notes: str | None) -> str | None:
    notes = (notes or "").strip()
    if len(notes) > NOTES_MAX:
        raise ChannelError("notes_too_long", max=NOTES_MAX)
    return notes or None


def _checked_difficulty(difficulty: str | None) -> str | None:
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise ChannelError("unknown_difficulty")
    return difficulty


async def get(session: AsyncSession, channel_id: int) -> Channel | None:
    """A channel by id."""
    return await session.get(Channel, channel_id)


async def card(
    session: AsyncSession, channel_id: int, *, changes: int = CARD_CHANGES
) -> Card | None:
    """A channel with its owner and its `changes` latest stage changes (oldest of them first),
    the channel and its history read in one statement."""
    rows = (await session.execute(_WITH_HISTORY, {"channel_id": channel_id})).all()
    if not rows:
        return None
    channel = rows[0][0]
    latest = [change for _, change in rows if change is not None][-changes:]
    people = await _staff_by_id(
        session, {channel.owner_id, *(c.by_staff_id for c in latest)} - {None}
    )
    return Card(
        channel, people.get(channel.owner_id), [(c, people.get(c.by_staff_id)) for c in latest]
    )


_WITH_HISTORY = (
    select(Channel, ChannelStageChange)
    .outerjoin(ChannelStageChange, ChannelStageChange.channel_id == Channel.id)
    .where(Channel.id == bindparam("channel_id"))
    .order_by(ChannelStageChange.at, ChannelStageChange.id)
)


async def _staff_by_id(session: AsyncSession, ids: set[int]) -> dict[int, Staff]:
    return await staff_service.by_ids(session, ids)


async def history(session: AsyncSession, channel_id: int) -> list[ChannelStageChange]:
    """Every stage change of a channel, oldest first (the first is its creation: None -> lead)."""
    query = (
        select(ChannelStageChange)
        .where(ChannelStageChange.channel_id == channel_id)
        .order_by(ChannelStageChange.at, ChannelStageChange.id)
    )
    return list(await session.scalars(query))


def _latest_first(query: Select, limit: int, offset: int) -> Select:
    return query.order_by(Channel.updated_at.desc(), Channel.id.desc()).limit(limit).offset(offset)


@dataclass(frozen=True)
class Page:
    """One page of a list of channels: its channels, how many the list holds, the page's number
    (the last page when the one asked for is past the end: the list shrank meanwhile)."""

    channels: list[Channel]
    total: int
    number: int

    def pages(self, size: int) -> int:
        """How many pages of `size` the list fills (at least one, if empty)."""
        return max(1, -(-self.total // size))


# A person's channels and the whole library, each built once and paged with parameters (a
# list button runs one of them: building and keying it afresh cost ~0.5 ms; decision 67).
_MINE = select(Channel).where(Channel.owner_id == bindparam("staff_id"))
_ALL = select(Channel)


async def page_mine(session: AsyncSession, staff_id: int, number: int, size: int) -> Page:
    """Page `number` of the channels a person owns, most recently updated first."""
    return await _page(session, _MINE, number, size, {"staff_id": staff_id}, _MINE_PAGE)


async def page_all(session: AsyncSession, number: int, size: int) -> Page:
    """Page `number` of the whole library, most recently updated first."""
    return await _page(session, _ALL, number, size, {}, _ALL_PAGE)


async def search(
    session: AsyncSession,
    query: str,
    *,
    limit: int = 8,
    offset: int = 0,
    regions: Sequence[Choice] | None = None,
    industries: Sequence[Choice] | None = None,
) -> list[Channel]:
    """Channels matching every word of `query`, most recently updated first.

    A word matches part of the name (normalised), a region or industry by key or label ("沈阳",
    "物业"), or the pinyin of the name ("wk" or "wanke" finds 万科). `regions`/`industries`
    are the configured choices whose labels are matched (the shipped defaults when omitted).
    """
    ranked = await _searched(session, query, regions, industries)
    if ranked is None:
        return []
    return list(await session.scalars(_latest_first(ranked, limit, offset)))


async def page_search(
    session: AsyncSession,
    query: str,
    number: int,
    size: int,
    *,
    regions: Sequence[Choice] | None = None,
    industries: Sequence[Choice] | None = None,
) -> Page:
    """Page `number` of what search() finds, with how many it finds in all."""
    ranked = await _searched(session, query, regions, industries)
    if ranked is None:
        return Page([], 0, 0)
    return await _page(session, ranked, number, size)


async def _searched(session, query, regions, industries) -> Select | None:
    where = await _search_where(session, query, regions, industries)
    if where is None:
        return None
    # The channel whose whole name was typed comes first, so limit=1 finds it.
    exact = case((Channel.norm_name == normalise(query), 0), else_=1)
    return select(Channel).where(where).order_by(exact)


async def _page(
    session: AsyncSession,
    query: Select,
    number: int,
    size: int,
    params: dict | None = None,
    paged: Select | None = None,
) -> Page:
    # One statement: the page and, beside each row, how many rows the list holds (a window
    # count, taken before LIMIT). Only a page past the end needs a count of its own. `paged`:
    # `_windowed(query)` built once already, `params` the values it and `query` take.
    number, params = max(number, 0), params or {}
    window = {**params, "limit": size, "offset": number * size}
    rows = (await session.execute(paged if paged is not None else _windowed(query), window)).all()
    if rows or number == 0:
        return Page([row[0] for row in rows], rows[0].total if rows else 0, number)
    total = await session.scalar(select(func.count()).select_from(query.subquery()), params)
    last = Page([], total, 0).pages(size) - 1
    if total == 0 or number == last:
        return Page([], total, min(number, last))
    return await _page(session, query, last, size, params, paged)


def _windowed(query: Select) -> Select:
    """`query`'s page (parameters `limit` and `offset`) with the list's size beside each row."""
    windowed = query.add_columns(func.count().over().label("total"))
    return _latest_first(windowed, bindparam("limit"), bindparam("offset"))


_MINE_PAGE, _ALL_PAGE = _windowed(_MINE), _windowed(_ALL)


async def _search_where(session, query, regions, industries):
    words = unicodedata.normalize("NFKC", query).casefold().split()
    if not words:
        return None
    regions = regions if regions is not None else default_reports().regions
    industries = industries if industries is not None else default_reports().industries
    pinyin = await _pinyin_index(session) if any(_is_pinyin(w) for w in words) else {}
    conditions = []
    for word in words:
        options = [Channel.norm_name.contains(normalise(word), autoescape=True)]
        options.append(Channel.region.in_(_matching(regions, word)))
        options.append(Channel.industry.in_(_matching(industries, word)))
        if _is_pinyin(word):
            ids = [i for i, keys in pinyin.items() if any(word in k for k in keys)]
            options.append(Channel.id.in_(ids))
        conditions.append(or_(*options))
    return and_(*conditions)


def _matching(choices: Sequence[Choice], word: str) -> list[str]:
    """Keys of the choices a word names exactly ("沈阳", "沈阳市", "shenyang", "Shenyang")."""
    word = word.removesuffix("市") if len(word) > 2 else word
    return [c.key for c in choices if word in (c.key, c.label.zh.casefold(), c.label.en.casefold())]


def _is_pinyin(word: str) -> bool:
    return len(word) >= 2 and word.isascii() and word.isalpha()


async def _pinyin_index(session: AsyncSession) -> dict[int, tuple[str, str]]:
    # Pinyin is not stored, so it is worked out here; a library holds thousands, not millions.
    rows = await session.execute(select(Channel.id, Channel.norm_name))
    return {channel_id: _pinyin_keys(norm) for channel_id, norm in rows}


@lru_cache(maxsize=20_000)
def _pinyin_keys(norm_name: str) -> tuple[str, str]:
    """(initials, full pinyin) of a normalised name: 万科物业 -> ("wkwy", "wankewuye")."""
    # bot.pinyin imports pypinyin on first use: only a pinyin search needs it.
    initials = pinyin.initials(norm_name)
    return initials.casefold(), "".join(pinyin.syllables(norm_name)).casefold()


async def stats_for_day(session: AsyncSession, staff_id: int, day: date) -> DayStats:
    """A person's day: channels added, channels moved into each stage, and their stages now.

    `created` counts the channels they added that team-local day; `moved_to` the distinct
    channels they moved into each stage that day (creation is not a move); `in_stage` the
    channels they own, by current stage. Both dicts have every stage, zeros included.
    """
    by_them = (ChannelStageChange.by_staff_id == staff_id, ChannelStageChange.day == day)
    created = await session.scalar(
        select(func.count()).where(*by_them, ChannelStageChange.from_stage.is_(None))
    )
    moved = await session.execute(
        select(ChannelStageChange.to_stage, func.count(distinct(ChannelStageChange.channel_id)))
        .where(*by_them, ChannelStageChange.from_stage.is_not(None))
        .group_by(ChannelStageChange.to_stage)
    )
    now = await session.execute(
        select(Channel.stage, func.count())
        .where(Channel.owner_id == staff_id)
        .group_by(Channel.stage)
    )
    return DayStats(created, _per_stage(moved), _per_stage(now))


def _per_stage(rows) -> dict[str, int]:
    counts = dict.fromkeys(STAGES, 0)
    counts.update({stage: n for stage, n in rows})
    return counts


async def start_draft(
    session: AsyncSession, name: str, actor: Staff, *, displace: bool = True
) -> int | None:
    """Note that `actor` began adding a channel called `name`; returns the draft's id.

    The name has to survive until the region and industry buttons are pressed, in any process,
    and buttons carry at most 64 bytes: so it is kept as `actor`'s prompt, whose id the buttons
    carry. With displace=False (an offer under an empty search) a question of another kind that
    is open stays, and no draft is made: None.
    """
    name = clean_name(name)
    prompt = await prompts.ask(
        session, actor.id, prompts.Kind.CHANNEL_ADD, details={"name": name}, displace=displace
    )
    if prompt is None:
        return None
    await audit.record(session, actor.telegram_id, DRAFT_ACTION, f"prompt:{prompt.id}", name=name)
    return prompt.id


async def drop_draft(session: AsyncSession, actor: Staff) -> None:
    """`actor` cancelled adding a channel: their draft, if one is open, is closed."""
    prompt = await prompts.current(session, actor.id)
    if prompt is not None and prompt.kind == prompts.Kind.CHANNEL_ADD:
        await prompts.close(session, prompt.id)


async def draft_name(session: AsyncSession, draft_id: int, actor: Staff) -> str:
    """The name of `actor`'s draft, or ChannelError("stale") if not theirs, not a draft, too old.

    The draft is claimed (prompts.claim locks it), so a second press of the same button waits
    for the first to commit and then finds the channel it added: a double tap adds one channel.
    """
    prompt = await prompts.claim(session, draft_id, actor.id, prompts.Kind.CHANNEL_ADD)
    if prompt is None:
        raise ChannelError("stale")
    return prompt.details["name"]
