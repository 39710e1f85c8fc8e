"""/feedback and forwarded messages: capture user feedback, adjust it on its card, list the week."""

import re

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    MessageOrigin,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
)
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import clock
from bot.buttons import ID, Action
from bot.calendar import Period, local_date
from bot.i18n import t
from bot.models import Feedback, Staff
from bot.render import punctuation
from bot.services import audit, channels
from bot.services import feedback as fb
from bot.services.feedback import (
    CATEGORIES,
    CATEGORY_LABELS,
    SEGMENT_LABELS,
    SEGMENTS,
    SEVERITIES,
    SEVERITY_LABELS,
    FeedbackError,
)
from bot.state import BotContext
from handlers.access import staff_only, stale_data
from handlers.reply import acknowledge, answer_alert, edit, reply, rows_of

PRIVATE = filters.ChatType.PRIVATE
# Editing "/feedback tyop" must not record a second item: edits get their own answer.
NEW = PRIVATE & filters.UpdateType.MESSAGE
CARD_TEXT_MAX = 300
LIST_ITEMS = 25
LIST_TEXT_MAX = 60
LIST_NAME_MAX = 24
LIST_BUTTONS = 20
PICKER_PAGE = 6
LABEL_MAX = 40
BIG_STEP = 10
LIST_WORDS = {"list", "列表", "ls"}
HELP_WORDS = {"help", "帮助", "?", "？"}
# "same as #12", "same as 12", "同 #12", "同上 #12", "+1 #12": count up an item of this week.
SAME_AS = re.compile(r"(?:same\s+as|同上?|相同|\+1)\s*[#＃]?\s*(\d{1,12})", re.IGNORECASE)


# The card's buttons, `fb:v1:<item>:<action>:<arg>`; `index`: a place in CATEGORIES, SEGMENTS, …
CATEGORY = Action("fb", "{item}:c:{index}", item=ID, index=ID)
SEGMENT = Action("fb", "{item}:s:{index}", item=ID, index=f"{ID}|-")  # "-": the ticked one clears
SEVERITY = Action("fb", "{item}:v:{index}", item=ID, index=ID)
COUNT = Action("fb", "{item}:n:{seen}.{new}", item=ID, seen=ID, new=ID)
PICK_CHANNEL = Action("fb", "{item}:p:{kind}{page}", item=ID, kind="[ma]", page=ID)
CHANNEL = Action("fb", "{item}:ch:{channel}", item=ID, channel=ID)  # 0: no channel
BACK = Action("fb", "{item}:b:", item=ID)
FULL_TEXT = Action("fb", "{item}:f:", item=ID)
REMOVE = Action("fb", "{item}:rm:", item=ID)
REMOVE_SURE = Action("fb", "{item}:rm:y", item=ID)
DONE = Action("fb", "{item}:ok:", item=ID)
OPEN = Action("fb", "{item}:o:", item=ID)


def _week(context: BotContext) -> str:
    return Period.containing("week", local_date(clock.now(), context.settings.team.tz)).key


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _line(text: str, limit: int) -> str:
    """Text for one line of a list or a button: runs of whitespace (newlines too) as one space."""
    return _clip(" ".join(text.split()), limit)


@staff_only()
async def feedback_command(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """/feedback <text> | list | same as #ID | help (also /feedback alone)."""
    rest = _after_first_word(update.effective_message.text or "")
    word = rest.casefold()
    same = SAME_AS.fullmatch(rest)
    try:
        if not rest or word in HELP_WORDS:
            await reply(update, me.locale, "feedback_help.html.j2")
        elif word in LIST_WORDS:
            await _reply_list(update, context, session, me)
        elif same is not None:
            item = await fb.same_as(session, me, int(same[1]), _week(context))
            await _reply_card(update, context, session, me, item, notice="merged")
        else:
            item, merged = await fb.record(session, me, rest, week_key=_week(context))
            notice = "merged" if merged else "created"
            await _reply_card(update, context, session, me, item, notice=notice)
    except FeedbackError as exc:
        await reply(update, me.locale, "feedback_error.html.j2", reason=exc.reason, **exc.params)


def _after_first_word(text: str) -> str:
    parts = text.split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


@staff_only()
async def record_forward(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """A message forwarded to the bot: its text (or a photo's caption) becomes a feedback item."""
    message = update.effective_message
    text = message.text if message.text is not None else message.caption
    if not (text or "").strip():
        await reply(update, me.locale, "feedback_error.html.j2", reason="no_text")
        return
    try:
        item, merged = await fb.record(
            session,
            me,
            text,
            week_key=_week(context),
            source="forward",
            forwarded_from=_origin_name(message.forward_origin),
        )
    except FeedbackError as exc:
        await reply(update, me.locale, "feedback_error.html.j2", reason=exc.reason, **exc.params)
        return
    notice = "merged" if merged else "created"
    media = message.text is None
    await _reply_card(update, context, session, me, item, notice=notice, media=media)


def _origin_name(origin: MessageOrigin | None) -> str | None:
    """Who wrote the forwarded message, when Telegram shows it."""
    if isinstance(origin, MessageOriginUser):
        return origin.sender_user.full_name
    if isinstance(origin, MessageOriginHiddenUser):
        return origin.sender_user_name
    if isinstance(origin, MessageOriginChat):
        return origin.sender_chat.title or origin.author_signature
    if isinstance(origin, MessageOriginChannel):
        return origin.chat.title or origin.author_signature
    return None


def on_press(action: Action, step):
    """The handler of one card button: only the item's author may press it, until the week is
    filed; the step gets the item and the data's other values (numbers as ints)."""

    @staff_only()
    async def press(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
        data = update.callback_query.data
        item_id, *args = (int(v) if v.isdecimal() else v for v in action.unpack(data))
        try:
            item = await fb.get_own(session, me, item_id)
            await step(update, context, session, me, item, *args)
        except FeedbackError as exc:
            if exc.reason == "not_yours":
                await audit.record(
                    session, me.telegram_id, "access.refused", data[:128], reason="author"
                )
            await answer_alert(
                update, me.locale, "feedback_error.html.j2", reason=exc.reason, **exc.params
            )
            return
        except IndexError:  # an index no button of ours has
            await stale_data(update, session, me)
            return
        await acknowledge(update)

    return press


async def _set(update, context, session, me, item: Feedback, **changes) -> None:
    await fb.update(session, me, item, **changes)
    await _edit_card(update, context, session, me, item)


async def _category(update, context, session, me, item, index: int) -> None:
    await _set(update, context, session, me, item, category=CATEGORIES[index])


async def _segment(update, context, session, me, item, index: int | str) -> None:
    # The ticked segment's button clears it: not every piece of feedback has a known segment.
    segment = None if index == "-" else SEGMENTS[index]
    await _set(update, context, session, me, item, segment=segment)


async def _severity(update, context, session, me, item, index: int) -> None:
    await _set(update, context, session, me, item, severity=SEVERITIES[index])


async def _count(update, context, session, me, item, seen: int, new: int) -> None:
    """The card's count and the count wanted, so a double tap adds one, not two."""
    if seen != item.count:
        await _edit_card(update, context, session, me, item)
        raise FeedbackError("stale")
    try:
        await fb.update(session, me, item, count=new)
    except FeedbackError as exc:
        if exc.reason == "stale":
            await _edit_card(update, context, session, me, item)
        raise
    await _edit_card(update, context, session, me, item)


async def _picker(update, context, session, me, item, kind: str, page: int) -> None:
    """A page of my channels (m) or of the whole library (a)."""
    shown, total, page, pages = await _library_page(session, me, kind, page)
    rows = [[(_line(c.name, LABEL_MAX), CHANNEL.pack(item.id, c.id))] for c in shown]
    nav = [("◀", PICK_CHANNEL.pack(item.id, kind, page - 1))] if page > 0 else []
    nav += [("▶", PICK_CHANNEL.pack(item.id, kind, page + 1))] if page < pages - 1 else []
    rows += [nav] if nav else []
    if kind == "m":
        rows.append([("📚 " + t(me.locale, "All channels"), PICK_CHANNEL.pack(item.id, "a", 0))])
    else:
        rows.append([("👤 " + t(me.locale, "My channels"), PICK_CHANNEL.pack(item.id, "m", 0))])
    none = ("✖ " + t(me.locale, "No channel"), CHANNEL.pack(item.id, 0))
    rows.append([none, ("🔙 " + t(me.locale, "Back"), BACK.pack(item.id))])
    text = dict(item=item, text=_line(item.text, LIST_TEXT_MAX), kind=kind, total=total)
    text |= dict(page=page + 1, pages=pages)
    await edit(update, me.locale, "feedback_pick_channel.html.j2", rows, **text)


async def _library_page(session, me: Staff, kind: str, page: int):
    """One page of my channels ("m") or of the whole library: (channels, total, page, pages)."""
    if kind == "m":
        found = await channels.page_mine(session, me.id, page, PICKER_PAGE)
    else:
        found = await channels.page_all(session, page, PICKER_PAGE)
    return found.channels, found.total, found.number, found.pages(PICKER_PAGE)


async def _channel(update, context, session, me, item, channel_id: int) -> None:
    await _set(update, context, session, me, item, channel_id=channel_id)


async def _back(update, context, session, me, item) -> None:
    await _edit_card(update, context, session, me, item)


async def _full_text(update, context, session, me, item) -> None:
    await reply(update, me.locale, "feedback_full.html.j2", item=item)


async def _ask_remove(update, context, session, me, item) -> None:
    rows = [
        [
            ("🗑 " + t(me.locale, "Yes, remove it"), REMOVE_SURE.pack(item.id)),
            ("🔙 " + t(me.locale, "Back"), BACK.pack(item.id)),
        ]
    ]
    text = await _card_text(context, session, me, item, notice="confirm_remove")
    await edit(update, me.locale, "feedback_card.html.j2", rows, **text)


async def _remove(update, context, session, me, item) -> None:
    text = _line(item.text, LIST_TEXT_MAX)
    item_id = item.id
    await fb.remove(session, me, item)
    await edit(update, me.locale, "feedback_removed.html.j2", id=item_id, text=text)


async def _done(update, context, session, me, item) -> None:
    rows = [[("✏️ " + t(me.locale, "Change"), BACK.pack(item.id))]]
    text = await _card_text(context, session, me, item, notice="done")
    await edit(update, me.locale, "feedback_card.html.j2", rows, **text)


async def _open(update, context, session, me, item) -> None:
    """From the list: the card as a new message, so the list stays where it is."""
    await _reply_card(update, context, session, me, item)


async def _reply_card(update, context, session, me, item, notice=None, media=False) -> None:
    text, rows = await _card(context, session, me, item, notice=notice, media=media)
    await reply(update, me.locale, "feedback_card.html.j2", rows, **text)


async def _edit_card(update, context, session, me, item) -> None:
    text, rows = await _card(context, session, me, item)
    await edit(update, me.locale, "feedback_card.html.j2", rows, **text)


async def _card_text(context, session, me: Staff, item: Feedback, **extra) -> dict:
    """What the card says about an item."""
    locale = me.locale
    channel = await channels.get(session, item.channel_id) if item.channel_id else None
    author = None
    if item.author_id != me.id:
        people = await fb.authors(session, [item])
        author = people[item.author_id].display_name if item.author_id in people else "—"
    segment = SEGMENT_LABELS.get(item.segment)
    text = dict(
        item=item,
        text=_clip(item.text, CARD_TEXT_MAX),
        clipped=len(item.text) > CARD_TEXT_MAX,
        category=t(locale, CATEGORY_LABELS.get(item.category, item.category)),
        segment=t(locale, segment) if segment else None,
        severity=t(locale, SEVERITY_LABELS.get(item.severity, item.severity)),
        channel=channel.name if channel else None,
        author=author,
        locked=await fb.is_locked(session, item.week_key),
        notice=None,
        media=False,
    )
    return text | extra


async def _card(context, session, me: Staff, item: Feedback, notice=None, media=False):
    """The card's text and its buttons (none for someone else's item or a filed week)."""
    text = await _card_text(context, session, me, item, notice=notice, media=media)
    if text["author"] is not None or text["locked"]:
        return text, []
    return text, _card_buttons(me, item, text["channel"])


def _card_buttons(me: Staff, item: Feedback, channel: str | None) -> list:
    locale, tick = me.locale, "✓ "

    def choice(i: int, key: str, current: str | None, labels: dict, action: Action):
        ticked = key == current
        label = (tick if ticked else "") + t(locale, labels[key])
        return label, action.pack(item.id, "-" if ticked and action is SEGMENT else i)

    rows = rows_of(
        [choice(i, k, item.category, CATEGORY_LABELS, CATEGORY) for i, k in enumerate(CATEGORIES)],
        3,
    )
    rows += rows_of(
        [choice(i, k, item.segment, SEGMENT_LABELS, SEGMENT) for i, k in enumerate(SEGMENTS)], 2
    )
    rows += [
        [choice(i, k, item.severity, SEVERITY_LABELS, SEVERITY) for i, k in enumerate(SEVERITIES)]
    ]
    count = item.count
    # Say what the step counts (users who raised it), not a bare "+" / "+10".
    steps = [(t(locale, "−1 user"), count - 1)] if count > fb.MIN_COUNT else []
    steps += [(t(locale, "+1 user"), count + 1),
              (t(locale, "+%(n)s users", n=BIG_STEP), count + BIG_STEP)]  # fmt: skip
    rows += [
        [(label, COUNT.pack(item.id, count, new)) for label, new in steps if new <= fb.MAX_COUNT]
    ]
    colon = punctuation(locale)["colon"]
    source = t(locale, "Source channel") + colon + _line(channel or "—", LABEL_MAX)
    rows += [[("📇 " + source, PICK_CHANNEL.pack(item.id, "m", 0))]]
    if len(item.text) > CARD_TEXT_MAX:
        rows += [[("📄 " + t(locale, "Full text"), FULL_TEXT.pack(item.id))]]
    rows += [
        [
            ("🗑 " + t(locale, "Remove"), REMOVE.pack(item.id)),
            ("✅ " + t(locale, "Done"), DONE.pack(item.id)),
        ]
    ]
    return rows


async def _reply_list(update, context, session, me: Staff) -> None:
    """This week's items, most-raised first; buttons open my own (until the week is filed)."""
    week = _week(context)
    items = await fb.this_week(session, week)
    names = {i: s.display_name for i, s in (await fb.authors(session, items)).items()}
    locked = await fb.is_locked(session, week)
    shown = [
        dict(
            item=item,
            text=_line(item.text, LIST_TEXT_MAX),
            category=t(me.locale, CATEGORY_LABELS.get(item.category, item.category)),
            author=_line(names.get(item.author_id, "—"), LIST_NAME_MAX),
        )
        for item in items[:LIST_ITEMS]
    ]
    mine = [] if locked else [item for item in items if item.author_id == me.id]
    rows = [
        [(f"✏️ #{item.id} {_line(item.text, LABEL_MAX - 8)}", OPEN.pack(item.id))]
        for item in mine[:LIST_BUTTONS]
    ]
    await reply(
        update,
        me.locale,
        "feedback_list.html.j2",
        rows,
        week=week,
        items=shown,
        more=max(0, len(items) - LIST_ITEMS),
        total_items=len(items),
        total_mentions=sum(item.count for item in items),
        locked=locked,
    )


def register(app) -> None:
    """/feedback, its card buttons, and forwarded messages (before typed report answers)."""
    app.add_handler(CommandHandler("feedback", feedback_command, filters=NEW))
    for action, step in [
        (CATEGORY, _category),
        (SEGMENT, _segment),
        (SEVERITY, _severity),
        (COUNT, _count),
        (PICK_CHANNEL, _picker),
        (CHANNEL, _channel),
        (BACK, _back),
        (FULL_TEXT, _full_text),
        (REMOVE, _ask_remove),
        (REMOVE_SURE, _remove),
        (DONE, _done),
        (OPEN, _open),
    ]:
        app.add_handler(CallbackQueryHandler(on_press(action, step), pattern=action.pattern))
    app.add_handler(MessageHandler(NEW & filters.FORWARDED, record_forward))
