"""/channel: the channel resource library — my channels, search, cards, stages, adding, editing."""

import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot import clock
from bot.buttons import ID, KEY, Action
from bot.calendar import local_date
from bot.i18n import t
from bot.models import Channel, Staff
from bot.services import channels
from bot.services.channels import (
    DIFFICULTIES,
    DIFFICULTY_LABELS,
    STAGE_LABELS,
    STAGES,
    ChannelError,
)
from bot.state import BotContext
from handlers.access import staff_only, stale_data
from handlers.reply import acknowledge, answer_alert, answer_note, edit, reply, rows_of

# Who may read the library (用户运营经理：渠道资源使用权), and who may change it.
LIBRARY_ROLES = ("channel", "director", "user_ops")
EDITOR_ROLES = ("channel", "director")
PAGE_SIZE = 8
# Telegram allows 100 buttons; a phone shows about two dozen without scrolling.
CHOICES_PER_PAGE = 21
LABEL_MAX = 40
HUGE_NUMBER = re.compile(r"\d{19}")  # more digits than any id a BIGINT column holds
FIELD_WORDS = {"联系人": "contact", "电话": "phone", "备注": "notes", "难度": "difficulty"}
FIELD_WORDS |= {"名称": "name", **{f: f for f in channels.FIELDS}}
DIFFICULTY_WORDS = {"易": "easy", "容易": "easy", "中": "medium", "一般": "medium"}
DIFFICULTY_WORDS |= {"难": "hard", "困难": "hard", **{d: d for d in DIFFICULTIES}}


@dataclass(frozen=True)
class View:
    """Which list a card was opened from, so 🔙 returns there: mine, all, or a search."""

    kind: str = "m"
    page: int = 0
    query: str = ""

    @property
    def token(self) -> str:
        return f"q{self.page}.{self.query}" if self.kind == "q" else f"{self.kind}{self.page}"

    @classmethod
    def parse(cls, token: str) -> "View":
        head, _, query = token.partition(".")
        if head[:1] not in ("m", "a", "q") or not head[1:].isdigit():
            raise ValueError(token)
        return cls(head[0], int(head[1:]), query)


HOME = View()
# A View's token: m<page>, a<page> or q<page>.<search words> (any text, so always the last slot).
VIEW = r"[ma][0-9]{1,18}|q[0-9]{1,18}\.(?s:.*)"

LIST = Action("ch", "ls:{view}", view=VIEW)
CARD = Action("ch", "c:{channel}:{view}", channel=ID, view=VIEW)
# The stage the card showed and the one pressed (indexes in STAGES), so a stale card is caught.
MOVE = Action("ch", "st:{channel}:{shown}{stage}:{view}", channel=ID, shown="[0-9]", stage="[0-9]",
              view=VIEW)  # fmt: skip
EXPLAIN_ADDING = Action("ch", "add")
# Adding a channel: a page of regions, a region, an industry (`known`: the newest like-named
# channel already shown, so "create anyway" is not asked twice), or cancel.
REGION_PAGE = Action("ch", "np:{draft}:{page}", draft=ID, page=ID)
REGION = Action("ch", "nr:{draft}:{region}:{known}", draft=ID, region=KEY, known=ID)
INDUSTRY = Action("ch", "ni:{draft}:{region}:{industry}:{known}", draft=ID, region=KEY,
                  industry=KEY, known=ID)  # fmt: skip
CANCEL = Action("ch", "nc")


def _or_home(action: Action, *values: object, view: View) -> str:
    # A long search cannot ride along in 64 bytes; 🔙 then goes to "my channels".
    return action.pack_if_fits(*values, view.token) or action.pack(*values, HOME.token)


@staff_only(*LIBRARY_ROLES)
async def channel_command(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """/channel [all | new <name> | set <id> <field> <value> | help | <words to search>]."""
    rest = _after_first_word(update.effective_message.text)
    sub = SUBCOMMANDS.get(rest.split(None, 1)[0].casefold()) if rest else None
    try:
        if sub in (_new, _set) and not _may_edit(me):
            raise ChannelError("read_only")
        if sub is not None:
            await sub(update, context, session, me, _after_first_word(rest))
        else:
            await _reply_list(update, context, session, me, _view_for(rest, me))
    except ChannelError as exc:
        await reply(update, me.locale, "channel_error.html.j2", reason=exc.reason, **exc.params)


def _after_first_word(text: str) -> str:
    parts = text.split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


def _may_edit(me: Staff) -> bool:
    """Channel managers and directors change the library; user operations only read it."""
    return bool(me.role_names & set(EDITOR_ROLES))


def _view_for(words: str, me: Staff) -> View:
    if words.strip():
        return View("q", 0, " ".join(words.split()))
    return HOME if _may_edit(me) else View("a")  # a reader owns no channels: all of them


async def _reply_list(update, context, session, me, view: View) -> None:
    text, rows = await _list(context, session, me, view)
    await reply(update, me.locale, "channel_list.html.j2", rows, **text)


async def _all(update, context, session, me, rest: str) -> None:
    await _reply_list(update, context, session, me, View("a"))


async def _help(update, context, session, me, rest: str) -> None:
    await reply(update, me.locale, "channel_help.html.j2")


async def _new(update, context, session, me, name: str) -> None:
    draft = await channels.start_draft(session, name, me)
    text, rows = _region_picker(context, me, draft, channels.clean_name(name), 0)
    await reply(update, me.locale, "channel_pick_region.html.j2", rows, **text)


async def _set(update, context, session, me, rest: str) -> None:
    parts = rest.split(None, 2)
    # isdecimal, not isdigit: int() refuses "²"; and no id has more digits than BIGINT holds.
    is_id = len(parts) > 0 and parts[0].isdecimal() and not HUGE_NUMBER.search(parts[0])
    if len(parts) < 2 or not is_id or parts[1].casefold() not in FIELD_WORDS:
        raise ChannelError("set_usage")
    channel = await _existing(session, int(parts[0]))
    field = FIELD_WORDS[parts[1].casefold()]
    value = parts[2] if len(parts) > 2 else ""
    if field == "difficulty":
        value = _difficulty_key(value, me.locale)
    await channels.set_field(session, channel, field, value, me)
    text, rows = await _card(context, session, me, channel.id, HOME, notice="saved")
    await reply(update, me.locale, "channel_card.html.j2", rows, **text)


def _difficulty_key(word: str, locale: str) -> str:
    word = word.strip().casefold()
    for key, label in DIFFICULTY_LABELS.items():
        if word == t(locale, label).casefold():
            return key
    # Unknown words go through as typed, so the service names the problem.
    return DIFFICULTY_WORDS.get(word, word)


SUBCOMMANDS = {
    "all": _all,
    "全部": _all,
    "new": _new,
    "新建": _new,
    "set": _set,
    "修改": _set,
    "help": _help,
    "帮助": _help,
}


def on_press(action: Action, step):
    """The handler of one /channel button: the step gets the data's values (ids as ints, a
    view as a View); a ChannelError is an alert, a note it returns a short answer."""

    @staff_only(*LIBRARY_ROLES)
    async def press(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
        if step not in READ_STEPS and not _may_edit(me):
            await answer_alert(update, me.locale, "channel_error.html.j2", reason="read_only")
            return
        values = action.unpack(update.callback_query.data)
        args = [_value(name, v) for name, v in zip(action.names, values, strict=True)]
        try:
            note = await step(update, context, session, me, *args)
        except ChannelError as exc:
            await answer_alert(update, me.locale, "channel_error.html.j2", reason=exc.reason)
            return
        except IndexError:  # a stage no button of ours has
            await stale_data(update, session, me)
            return
        if note:
            await answer_note(update, me.locale, "channel_error.html.j2", reason=note)
        else:
            await acknowledge(update)

    return press


def _value(name: str, text: str) -> object:
    if name == "view":
        return View.parse(text)
    return int(text) if text.isdecimal() else text


async def _show_list(update, context, session, me, view: View) -> None:
    text, rows = await _list(context, session, me, view)
    await edit(update, me.locale, "channel_list.html.j2", rows, **text)


async def _show_card(update, context, session, me, channel_id: int, view: View) -> None:
    text, rows = await _card(context, session, me, channel_id, view)
    await edit(update, me.locale, "channel_card.html.j2", rows, **text)


async def _move(update, context, session, me, channel_id, shown, pressed, view) -> str | None:
    found = await channels.card(session, channel_id)  # read once: moved, then shown
    if found is None:
        raise ChannelError("not_found")
    channel, expected, stage = found.channel, STAGES[shown], STAGES[pressed]
    day = local_date(clock.now(), context.settings.team.tz)
    try:
        change = await channels.set_stage(session, channel, stage, me, day, expected=expected)
    except ChannelError as exc:
        if exc.reason != "stale":
            raise
        # Someone moved it since this card was drawn: show what is true now, then say so.
        await _redraw_card(update, context, session, me, channel.id, view)
        raise ChannelError("stale_stage") from None
    if change is None:
        return "already_there"
    moved = found.after(change, me)
    await _redraw_card(update, context, session, me, channel.id, view, notice="moved", found=moved)
    return None


async def _redraw_card(
    update, context, session, me, channel_id, view, notice=None, found=None
) -> None:
    text, rows = await _card(context, session, me, channel_id, view, notice=notice, found=found)
    await edit(update, me.locale, "channel_card.html.j2", rows, **text)


async def _explain_adding(update, context, session, me) -> None:
    await reply(update, me.locale, "channel_help.html.j2")


async def _region_page(update, context, session, me, draft: int, page: int) -> None:
    name = await channels.draft_name(session, draft, me)
    text, rows = _region_picker(context, me, draft, name, page)
    await edit(update, me.locale, "channel_pick_region.html.j2", rows, **text)


async def _region_picked(update, context, session, me, draft: int, region: str, known: int):
    name = await channels.draft_name(session, draft, me)
    if region not in {c.key for c in context.settings.reports.regions}:
        raise ChannelError("unknown_region")
    again = (REGION, draft, region)
    if await _show_duplicate(update, context, session, me, name, region, known, again):
        return
    text, rows = _industry_picker(context, me, draft, name, region, known)
    await edit(update, me.locale, "channel_pick_industry.html.j2", rows, **text)


async def _industry_picked(update, context, session, me, draft, region, industry, known):
    name = await channels.draft_name(session, draft, me)
    again = (INDUSTRY, draft, region, industry)
    if await _show_duplicate(update, context, session, me, name, region, known, again):
        return
    channel = await channels.create(
        session,
        name=name,
        industry=industry,
        region=region,
        actor=me,
        day=local_date(clock.now(), context.settings.team.tz),
        **_vocabulary(context),
    )
    await _redraw_card(update, context, session, me, channel.id, HOME, notice="created")


async def _show_duplicate(update, context, session, me, name, region, known, again) -> bool:
    """Ask "use the existing one or create anyway?" when a like-named channel is newer than
    the one already shown (`known`); "create anyway" repeats the step (`again`: its action and
    values but the last) with it as known."""
    duplicate = await channels.find_duplicate(session, name, region)
    if duplicate is None or duplicate.id <= known:
        return False
    action, *values = again
    rows = [
        [(t(me.locale, "Use the existing one"), CARD.pack(duplicate.id, HOME.token))],
        [(t(me.locale, "Create anyway"), action.pack(*values, duplicate.id))],
        [(t(me.locale, "✖ Cancel"), CANCEL.pack())],
    ]
    existing = await _card_text(context, session, me, duplicate.id)
    await edit(update, me.locale, "channel_duplicate.html.j2", rows, name=name, **existing)
    return True


async def _cancel(update, context, session, me) -> None:
    await channels.drop_draft(session, me)
    await edit(update, me.locale, "channel_cancelled.html.j2")


async def _existing(session: AsyncSession, channel_id: int) -> Channel:
    channel = await channels.get(session, channel_id)
    if channel is None:
        raise ChannelError("not_found")
    return channel


async def _list(context, session, me: Staff, view: View):
    """The text and keyboard of one page of a list."""
    page = await _fetch(context, session, me, view)
    found, total, pages = page.channels, page.total, page.pages(PAGE_SIZE)
    view = View(view.kind, page.number, view.query)
    rows = [[(_button_label(c, me.locale), _or_home(CARD, c.id, view=view))] for c in found]
    rows += _list_footer(me, view, pages)
    if view.kind == "q" and not found:
        rows = await _offer_to_add(session, me, view.query) or rows
    items = [_summary(context, c, me.locale) for c in found]
    text = dict(kind=view.kind, query=view.query, items=items, total=total)
    return text | dict(page=view.page + 1, pages=pages), rows


async def _fetch(context, session, me: Staff, view: View) -> channels.Page:
    if view.kind == "m":
        return await channels.page_mine(session, me.id, view.page, PAGE_SIZE)
    if view.kind == "a":
        return await channels.page_all(session, view.page, PAGE_SIZE)
    vocabulary = _vocabulary(context)
    return await channels.page_search(session, view.query, view.page, PAGE_SIZE, **vocabulary)


def _vocabulary(context) -> dict:
    reports = context.settings.reports
    return dict(regions=reports.regions, industries=reports.industries)


def _list_footer(me: Staff, view: View, pages: int) -> list[list[tuple[str, str]]]:
    nav = []
    if view.page > 0:
        nav.append(("◀", LIST.pack_if_fits(View(view.kind, view.page - 1, view.query).token)))
    if view.page < pages - 1:
        nav.append(("▶", LIST.pack_if_fits(View(view.kind, view.page + 1, view.query).token)))
    # A search too long to page through in 64 bytes shows its first page only.
    rows = [[b for b in nav if b[1]]] if any(b[1] for b in nav) else []
    if not _may_edit(me):
        return rows
    other = ("📚 " + t(me.locale, "All channels"), LIST.pack(View("a").token))
    if view.kind != "m":
        other = ("👤 " + t(me.locale, "My channels"), LIST.pack(HOME.token))
    rows.append([("➕ " + t(me.locale, "New channel"), EXPLAIN_ADDING.pack()), other])
    return rows


async def _offer_to_add(session, me: Staff, query: str) -> list[list[tuple[str, str]]] | None:
    """Nothing found: offer to add the searched words as a new channel, if they make a name."""
    if not _may_edit(me):
        return None
    try:
        # An offer, not a question: a reason or a value being asked stays the open prompt.
        draft = await channels.start_draft(session, query, me, displace=False)
    except ChannelError:
        return None
    if draft is None:
        return None
    label = t(me.locale, "➕ Add “%(name)s”", name=_clip(query))
    return [
        [(label, REGION_PAGE.pack(draft, 0))],
        [("👤 " + t(me.locale, "My channels"), LIST.pack(HOME.token))],
    ]


def _summary(context, channel: Channel, locale: str) -> dict:
    reports = context.settings.reports
    return dict(
        channel=channel,
        region=_label(reports.regions, channel.region, locale),
        industry=_label(reports.industries, channel.industry, locale),
        stage=t(locale, STAGE_LABELS.get(channel.stage, channel.stage)),
    )


async def _card(context, session, me: Staff, channel_id: int, view: View, notice=None, found=None):
    """The text and keyboard of a channel card (`found`: the card already read, if it was)."""
    text = await _card_text(context, session, me, channel_id, found)
    stage = STAGES.index(text["channel"].stage) if text["channel"].stage in STAGES else 0
    back = [("🔙 " + t(me.locale, "Back"), _or_home(LIST, view=view))]
    if not _may_edit(me):
        return text | {"notice": notice}, [back]
    buttons = [
        (
            ("✓ " if i == stage else "") + t(me.locale, STAGE_LABELS[s]),
            _or_home(MOVE, channel_id, stage, i, view=view),
        )
        for i, s in enumerate(STAGES)
    ]
    rows = rows_of(buttons, width=3)
    rows.append(back)
    return text | {"notice": notice}, rows


async def _card_text(context, session, me: Staff, channel_id: int, found=None) -> dict:
    found = found or await channels.card(session, channel_id)
    if found is None:
        raise ChannelError("not_found")
    tz, locale = context.settings.team.tz, me.locale
    changes = [
        dict(
            when=change.at.astimezone(tz),
            who=who.display_name if who else "—",
            before=t(locale, STAGE_LABELS[change.from_stage]) if change.from_stage else None,
            after=t(locale, STAGE_LABELS.get(change.to_stage, change.to_stage)),
        )
        for change, who in found.changes
    ]
    difficulty = found.channel.difficulty
    return _summary(context, found.channel, locale) | dict(
        difficulty=t(locale, DIFFICULTY_LABELS[difficulty]) if difficulty else None,
        owner=found.owner.display_name if found.owner else None,
        changes=changes,
    )


def _region_picker(context, me: Staff, draft: int, name: str, page: int):
    regions = context.settings.reports.regions
    pages = max(1, -(-len(regions) // CHOICES_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = regions[page * CHOICES_PER_PAGE : (page + 1) * CHOICES_PER_PAGE]
    rows = rows_of([(c.label.get(me.locale), REGION.pack(draft, c.key, 0)) for c in shown], 3)
    nav = [("◀", REGION_PAGE.pack(draft, page - 1))] if page > 0 else []
    nav += [("▶", REGION_PAGE.pack(draft, page + 1))] if page < pages - 1 else []
    rows += [nav] if nav else []
    rows.append([(t(me.locale, "✖ Cancel"), CANCEL.pack())])
    return dict(name=name, page=page + 1, pages=pages), rows


def _industry_picker(context, me: Staff, draft: int, name: str, region: str, known: int):
    reports = context.settings.reports
    shown = reports.industries[:CHOICES_PER_PAGE]
    rows = rows_of(
        [(c.label.get(me.locale), INDUSTRY.pack(draft, region, c.key, known)) for c in shown]
    )
    rows.append([(t(me.locale, "✖ Cancel"), CANCEL.pack())])
    region_label = _label(reports.regions, region, me.locale)
    return dict(name=name, region=region_label), rows


def _label(choices, key: str, locale: str) -> str:
    """The label of a configured region or industry; the bare key once config dropped it."""
    return next((c.label.get(locale) for c in choices if c.key == key), key)


def _button_label(channel: Channel, locale: str) -> str:
    stage = t(locale, STAGE_LABELS.get(channel.stage, channel.stage))
    return f"{_clip(channel.name)} · {stage}"


def _clip(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


READ_STEPS = (_show_list, _show_card)  # every other button changes the library


def register(app) -> None:
    """/channel and its buttons (channel managers and directors; user operations read)."""
    app.add_handler(CommandHandler("channel", channel_command, filters=filters.ChatType.PRIVATE))
    for action, step in [
        (LIST, _show_list),
        (CARD, _show_card),
        (MOVE, _move),
        (EXPLAIN_ADDING, _explain_adding),
        (REGION_PAGE, _region_page),
        (REGION, _region_picked),
        (INDUSTRY, _industry_picked),
        (CANCEL, _cancel),
    ]:
        app.add_handler(CallbackQueryHandler(on_press(action, step), pattern=action.pattern))
