"""Feedback capture: repeats counted, author-only edits, the week's summary, and /feedback."""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from support import TZ, local, make_staff

from bot import clock
from bot.models import AuditLog, Channel, Feedback, Report, Staff
from bot.render import render
from bot.services import channels, feedback
from bot.services import staff as staff_service
from bot.services.feedback import FeedbackError
from bot.services.staff import Person
from bot.simulator.html import parse_html, utf16_len
from handlers.feedback import CARD_TEXT_MAX, LIST_ITEMS, LIST_NAME_MAX, LIST_TEXT_MAX

WEEK = "2026-W48"
HOSTILE = "<zz>&"
ESCAPED = "&lt;zz&gt;&amp;"


def today() -> date:
    return clock.now().astimezone(TZ).date()


async def _person(s, telegram_id: int, name: str, role: str = "user_ops") -> Staff:
    return await staff_service.add(s, Person(telegram_id, name, None, "en"), [role], None)


async def _file_summary(s, staff: Staff, week: str = WEEK) -> None:
    """What /weekly leaves behind: a filed weekly_feedback report for the week."""
    now = clock.now()
    s.add(
        Report(
            staff_id=staff.id,
            form_key="weekly_feedback",
            period_key=week,
            answers={},
            fields={},
            filed_at=now,
            updated_at=now,
        )
    )
    await s.flush()


async def _items(sessions) -> list[Feedback]:
    async with sessions() as s:
        return list(await s.scalars(select(Feedback).order_by(Feedback.id)))


# ---- normalising and suggesting ---------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        ("App crashes on login", "app crashes on login!"),
        ("闪退了！！😡", "闪退了"),
        ("支付 页面 太慢", "支付页面太慢。"),
        ("ＡＢＣ　很好用", "abc很好用"),
    ],
)
def test_it_normalises_feedback_that_says_the_same(a, b):
    assert feedback.normalise(a) == feedback.normalise(b)


def test_normalised_keys_are_short_and_never_empty():
    assert len(feedback.normalise("长" * 2000)) == 255
    assert feedback.normalise("👍👍") == "👍👍"
    assert feedback.normalise("希望加夜间模式") != feedback.normalise("希望加日间模式")


@pytest.mark.parametrize(
    "text, category",
    [
        ("App crashes on login", "bug"),
        ("一打开就闪退", "bug"),
        ("交电费的时候报错了", "bug"),
        ("Got an error when paying", "bug"),
        ("希望能加一个夜间模式", "feature"),
        ("建议增加月度账单导出", "feature"),
        ("Please add a monthly bill PDF", "feature"),
        ("能不能支持微信登录", "feature"),
        ("会员太贵了", "pricing"),
        ("希望价格便宜一点", "pricing"),
        ("Too expensive for small shops", "pricing"),
        ("页面加载太慢", "experience"),
        ("用起来很卡", "experience"),
        ("The settings page is confusing", "experience"),
        ("界面太乱，找不到入口", "experience"),
        ("文章更新太少", "content"),
        ("More content about saving power", "content"),
        ("客服态度很好", "other"),
        ("My address changed", "other"),  # "add" only as a word
        ("绑定银行卡", "other"),  # 卡 of a bank card is not lag
    ],
)
def test_it_suggests_a_category_from_keywords(text, category):
    assert feedback.suggest_category(text) == category


# ---- recording ----------------------------------------------------------------------------------


@pytest.mark.databases
async def test_it_records_an_item_with_the_suggested_category(sessions):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        item, merged = await feedback.record(s, li, "  App crashes on login  ", week_key=WEEK)
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "feedback.create"))

    assert not merged
    assert (item.text, item.category, item.count, item.week_key) == (
        "App crashes on login",
        "bug",
        1,
        WEEK,
    )
    assert (item.severity, item.segment, item.source, item.author_id) == (
        "medium",
        None,
        "command",
        li.id,
    )
    assert entry.target == f"feedback:{item.id}" and entry.actor_telegram_id == 1


@pytest.mark.databases
async def test_a_repeat_this_week_counts_up_whoever_records_it(sessions):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        wang = await _person(s, 2, "Wang", "channel")
        first, _ = await feedback.record(s, li, "App crashes on login", week_key=WEEK)
        again, merged = await feedback.record(s, wang, "app crashes on login!!", week_key=WEEK)
        third, merged3 = await feedback.record(
            s, li, "APP crashes on login", week_key=WEEK, count=5
        )
        last_week, merged_old = await feedback.record(
            s, li, "App crashes on login", week_key="2026-W47"
        )

    assert merged and merged3 and not merged_old
    assert again.id == third.id == first.id and third.count == 7
    assert third.text == "App crashes on login"  # the first wording is kept
    assert last_week.id != first.id and last_week.count == 1


@pytest.mark.databases
async def test_long_texts_that_differ_after_the_key_are_not_merged(sessions):
    common = "支付页面" * 70  # 280 characters: longer than the stored key
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        a, _ = await feedback.record(s, li, common + "太慢", week_key=WEEK)
        b, merged = await feedback.record(s, li, common + "太贵", week_key=WEEK)
    assert not merged and a.id != b.id and a.norm_text == b.norm_text


@pytest.mark.databases
@pytest.mark.parametrize(
    "text, kw, reason, params",
    [
        ("", {}, "empty", {}),
        ("   \n ", {}, "empty", {}),
        ("x" * 5000, {}, "too_long", {"length": 5000, "max": 2000}),
        ("ok", {"count": 0}, "bad_count", {"min": 1, "max": 100000}),
        ("ok", {"count": -3}, "bad_count", {"min": 1, "max": 100000}),
        ("ok", {"count": 100001}, "bad_count", {"min": 1, "max": 100000}),
        ("ok", {"count": True}, "bad_count", {"min": 1, "max": 100000}),
    ],
)
async def test_bad_feedback_is_refused_and_nothing_is_stored(sessions, text, kw, reason, params):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        with pytest.raises(FeedbackError) as caught:
            await feedback.record(s, li, text, week_key=WEEK, **kw)
    assert (caught.value.reason, caught.value.params) == (reason, params)
    assert await _items(sessions) == []


@pytest.mark.databases
async def test_the_longest_allowed_feedback_and_html_are_stored_as_typed(sessions):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        longest, _ = await feedback.record(s, li, "长" * 2000, week_key=WEEK)
        html, _ = await feedback.record(
            s,
            li,
            "<b>bold</b> & <script>",
            week_key=WEEK,
            source="forward",
            forwarded_from="x" * 300,
        )
    assert len(longest.text) == 2000
    assert html.text == "<b>bold</b> & <script>"
    assert html.source == "forward" and html.forwarded_from == "x" * 128


@pytest.mark.databases
async def test_same_as_counts_up_this_weeks_item_only(sessions):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        wang = await _person(s, 2, "Wang", "channel")
        item, _ = await feedback.record(s, li, "希望加夜间模式", week_key=WEEK)
        old, _ = await feedback.record(s, li, "旧的反馈", week_key="2026-W47")
        counted = await feedback.same_as(s, wang, item.id, WEEK)
        with pytest.raises(FeedbackError) as other_week:
            await feedback.same_as(s, wang, old.id, WEEK)
        with pytest.raises(FeedbackError) as missing:
            await feedback.same_as(s, wang, 999, WEEK)
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "feedback.same_as"))
    assert counted.count == 2 and entry.actor_telegram_id == 2
    assert other_week.value.reason == "not_this_week" and missing.value.reason == "not_found"


# ---- editing, removing, locking -----------------------------------------------------------------


@pytest.mark.databases
async def test_the_author_changes_their_item_and_it_is_audited(sessions):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        wang = await _person(s, 2, "Wang", "channel")
        channel = await channels.create(
            s, name="万科物业", industry="property", region="shenyang", actor=wang, day=today()
        )
        item, _ = await feedback.record(s, li, "希望加夜间模式", week_key=WEEK)
        own = await feedback.get_own(s, li, item.id)
        await feedback.update(
            s,
            li,
            own,
            category="experience",
            segment="opinion_leader",
            severity="high",
            count=12,
            channel_id=channel.id,
        )
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "feedback.update"))
    [stored] = await _items(sessions)
    assert (stored.category, stored.segment, stored.severity, stored.count) == (
        "experience",
        "opinion_leader",
        "high",
        12,
    )
    assert stored.channel_id == channel.id
    assert entry.details["count"] == 12 and entry.actor_telegram_id == 1

    async with sessions() as s, s.begin():
        li = await s.get(Staff, li.id)
        own = await feedback.get_own(s, li, item.id)
        await feedback.update(s, li, own, segment=None, channel_id=0)
    [stored] = await _items(sessions)
    assert stored.segment is None and stored.channel_id is None


@pytest.mark.databases
@pytest.mark.parametrize(
    "changes, reason",
    [
        (dict(category="praise"), "unknown_category"),
        (dict(segment="vip"), "unknown_segment"),
        (dict(severity="urgent"), "unknown_severity"),
        (dict(count=0), "bad_count"),
        (dict(count=-1), "bad_count"),
        (dict(count=100001), "bad_count"),
        (dict(count="5"), "bad_count"),
        (dict(channel_id=999), "unknown_channel"),
    ],
)
async def test_bad_changes_are_refused_and_change_nothing(sessions, changes, reason):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        item, _ = await feedback.record(s, li, "希望加夜间模式", week_key=WEEK)
        with pytest.raises(FeedbackError) as caught:
            await feedback.update(s, li, item, **changes)
    assert caught.value.reason == reason
    [stored] = await _items(sessions)
    assert (stored.category, stored.count, stored.channel_id) == ("feature", 1, None)


@pytest.mark.databases
async def test_someone_elses_item_cannot_be_changed_or_removed(sessions):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        wang = await _person(s, 2, "Wang", "director")
        item, _ = await feedback.record(s, li, "希望加夜间模式", week_key=WEEK)
        for attempt in (
            feedback.get_own(s, wang, item.id),
            feedback.update(s, wang, item, count=3),
            feedback.remove(s, wang, item),
        ):
            with pytest.raises(FeedbackError) as caught:
                await attempt
            assert caught.value.reason == "not_yours"
        with pytest.raises(FeedbackError) as missing:
            await feedback.get_own(s, li, 999)
    assert missing.value.reason == "not_found"
    [stored] = await _items(sessions)
    assert stored.count == 1


@pytest.mark.databases
async def test_a_count_changed_meanwhile_is_not_overwritten(sessions):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        item, _ = await feedback.record(s, li, "希望加夜间模式", week_key=WEEK)
        # Another user's repeat lands after this session read the item.
        await s.execute(
            sql_update(Feedback)
            .where(Feedback.id == item.id)
            .values(count=5)
            .execution_options(synchronize_session=False)
        )
        with pytest.raises(FeedbackError) as caught:
            await feedback.update(s, li, item, count=2)
    assert caught.value.reason == "stale"
    [stored] = await _items(sessions)
    assert stored.count == 5


@pytest.mark.databases
async def test_the_author_removes_their_item(sessions):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        item, _ = await feedback.record(s, li, "<b>oops</b>", week_key=WEEK)
        await feedback.remove(s, li, item)
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "feedback.remove"))
    assert await _items(sessions) == []
    assert entry.details["text"] == "<b>oops</b>"


@pytest.mark.databases
async def test_filing_the_weeks_summary_freezes_its_items(sessions):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        item, _ = await feedback.record(s, li, "希望加夜间模式", week_key=WEEK)
        assert not await feedback.is_locked(s, WEEK)
        await _file_summary(s, li)
        assert await feedback.is_locked(s, WEEK)
        assert not await feedback.is_locked(s, "2026-W49")
        for attempt in (
            feedback.get_own(s, li, item.id),
            feedback.update(s, li, item, severity="high"),
            feedback.remove(s, li, item),
            feedback.same_as(s, li, item.id, WEEK),
        ):
            with pytest.raises(FeedbackError) as caught:
                await attempt
            assert caught.value.reason == "locked"
        # Feedback arriving after the summary is kept, as a new item; the filed one stays as it was.
        late, merged = await feedback.record(s, li, "希望加夜间模式", week_key=WEEK)
    assert not merged and late.id != item.id
    assert [i.count for i in await _items(sessions)] == [1, 1]


# ---- the week -------------------------------------------------------------------------------


@pytest.mark.databases
async def test_this_week_lists_most_raised_first_then_newest(sessions):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        for text, count in (("A", 1), ("B", 3), ("C", 1)):
            await feedback.record(s, li, text, week_key=WEEK, count=count)
            clock.start_at(clock.now() + timedelta(minutes=1))
        await feedback.record(s, li, "D", week_key="2026-W47", count=9)
        ordered = await feedback.this_week(s, WEEK)
    assert [i.text for i in ordered] == ["B", "C", "A"]


@pytest.mark.databases
async def test_the_week_summary_counts_mentions_by_category_and_channel(sessions):
    async with sessions() as s, s.begin():
        li = await _person(s, 1, "Li")
        wang = await _person(s, 2, "Wang", "channel")
        vanke = await channels.create(
            s, name="万科物业", industry="property", region="shenyang", actor=wang, day=today()
        )
        grid = await channels.create(
            s, name="国网沈阳", industry="power", region="shenyang", actor=wang, day=today()
        )
        await feedback.record(s, li, "App crashes on login", week_key="2026-W47")
        texts = [("App crashes on login", 3), ("闪退", 1), ("太贵了", 2), ("希望加夜间模式", 1)]
        texts += [(f"其他意见{i}", 1) for i in range(4)]
        made = [(await feedback.record(s, li, t, week_key=WEEK, count=n))[0] for t, n in texts]
        await feedback.update(s, li, made[0], channel_id=vanke.id, segment="heavy")
        await feedback.update(s, li, made[2], channel_id=grid.id)
        await feedback.update(s, li, made[1], channel_id=grid.id)
        summary = await feedback.week_summary(s, WEEK)
        empty = await feedback.week_summary(s, "2026-W50")

    assert (summary.week_key, summary.total_items, summary.total_mentions) == (WEEK, 8, 11)
    assert summary.by_category == {
        "bug": 4,
        "feature": 1,
        "experience": 0,
        "pricing": 2,
        "content": 0,
        "other": 4,
    }
    assert summary.previous_by_category["bug"] == 1 and summary.previous_by_category["other"] == 0
    assert [i.text for i in summary.top[:2]] == ["App crashes on login", "太贵了"]
    assert len(summary.top) == 5
    assert summary.channels == [("万科物业", 3), ("国网沈阳", 3)]
    assert summary.by_segment["heavy"] == 3
    assert (empty.total_items, empty.total_mentions, empty.top, empty.channels) == (0, 0, [], [])


# ---- templates ------------------------------------------------------------------------------


def _hostile_item(**kw):
    base = dict(id=7, text=HOSTILE, count=3, forwarded_from=HOSTILE, week_key=WEEK)
    return SimpleNamespace(**(base | kw))


_CARD = dict(
    item=_hostile_item(),
    text=HOSTILE,
    clipped=True,
    category=HOSTILE,
    segment=HOSTILE,
    severity=HOSTILE,
    channel=HOSTILE,
    author=HOSTILE,
    locked=False,
    notice="merged",
    media=True,
)
_ENTRY = dict(item=_hostile_item(), text=HOSTILE, category=HOSTILE, author=HOSTILE)
# Every feedback template with every user-controlled value hostile (for tests/test_i18n.py too).
CONTEXTS = {
    "feedback_card.html.j2": _CARD,
    "feedback_list.html.j2": dict(
        week=WEEK,
        items=[_ENTRY],
        more=2,
        total_items=3,
        total_mentions=5,
        locked=False,
    ),
    "feedback_pick_channel.html.j2": dict(
        item=_hostile_item(), text=HOSTILE, kind="m", total=0, page=1, pages=2
    ),
    "feedback_full.html.j2": dict(item=_hostile_item()),
    "feedback_removed.html.j2": dict(id=7, text=HOSTILE),
}
NO_USER_INPUT = {"feedback_help.html.j2", "feedback_error.html.j2"}
ERROR_REASONS = [
    "empty",
    "too_long",
    "bad_count",
    "no_text",
    "not_found",
    "not_this_week",
    "not_yours",
    "locked",
    "stale",
    "unknown_channel",
    "unknown_category",
]


# tests/test_i18n.py renders every template in CONTEXTS with hostile input.


@pytest.mark.parametrize("locale", ["zh", "en"])
@pytest.mark.parametrize(
    "variant",
    [
        dict(notice="created", author=None, locked=True, media=False, clipped=False),
        dict(notice="done", author=None, segment=None, channel=None),
        dict(notice="confirm_remove", item=_hostile_item(forwarded_from=None)),
    ],
)
def test_every_card_variant_is_valid_telegram_html(locale, variant):
    assert parse_html(render("feedback_card.html.j2", locale, **(_CARD | variant)))[0]


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_templates_without_user_input_are_valid_telegram_html(locale):
    assert parse_html(render("feedback_help.html.j2", locale))[0].strip()
    for reason in ERROR_REASONS:
        text = render("feedback_error.html.j2", locale, reason=reason, length=5000, max=2000, min=1)
        assert parse_html(text)[0].strip()
    too_long = render("feedback_error.html.j2", "en", reason="too_long", length=5000, max=2000)
    assert "5,000 of 2,000" in too_long
    # The help states the limit in words; it has to follow the service's.
    assert f"up to {feedback.MAX_TEXT:,} characters" in render("feedback_help.html.j2", "en")


def test_the_longest_card_and_list_fit_in_one_message():
    card = render(
        "feedback_card.html.j2",
        "zh",
        **(
            _CARD
            | dict(
                text="长" * (CARD_TEXT_MAX - 1) + "…",
                item=_hostile_item(forwarded_from="人" * 128, count=feedback.MAX_COUNT),
                channel="渠" * 128,
                author="名" * 128,
            )
        ),
    )
    assert utf16_len(parse_html(card)[0]) <= 4096
    entry = dict(
        item=_hostile_item(id=10**9, count=feedback.MAX_COUNT),
        text="长" * (LIST_TEXT_MAX - 1) + "…",
        category="功能需求",
        author="名" * (LIST_NAME_MAX - 1) + "…",
    )
    listing = render(
        "feedback_list.html.j2",
        "zh",
        **(CONTEXTS["feedback_list.html.j2"] | dict(items=[entry] * LIST_ITEMS, more=10**5)),
    )
    assert utf16_len(parse_html(listing)[0]) <= 4096


# ---- /feedback through the simulator ------------------------------------------------------------


@pytest.fixture
def thursday():
    with time_machine.travel(local("2026-11-26 10:00"), tick=True) as traveller:
        yield traveller


@pytest.fixture
def colleague(sim):
    """A second English-speaking staff member."""
    return sim.user(id=2005, first_name="Zhao", last_name="Min", language_code="en")


@pytest.fixture
async def lina(app, sessions, user_ops_manager, colleague, thursday):
    await make_staff(sessions, user_ops_manager, "user_ops")
    await make_staff(sessions, colleague, "user_ops")
    return user_ops_manager


def card_of(person):
    return person.inbox[-1]


def current(sim, message):
    return sim.message(message.chat_id, message.message_id)


async def test_feedback_is_recorded_and_confirmed_on_one_card(sim, sessions, lina):
    await lina.send("/feedback The payment page is too slow")
    card = card_of(lina)

    [item] = await _items(sessions)
    assert (item.text, item.category, item.week_key, item.source) == (
        "The payment page is too slow",
        "experience",
        WEEK,
        "command",
    )
    assert "Feedback recorded" in card.plain and f"#{item.id}" in card.plain
    assert "Category: Experience" in card.plain and "Users who raised it: 1" in card.plain
    assert "✓ Experience" in card.labels and "Bug" in card.labels
    assert {"Opinion leader", "Heavy user", "Light user", "New user"} <= set(card.labels)
    assert {"Low", "✓ Medium", "High", "+1 user", "+10 users", "🗑 Remove", "✅ Done"} <= set(
        card.labels
    )
    assert "−1 user" not in card.labels  # a count cannot go below one
    data = [b.callback_data for row in card.buttons for b in row]
    assert all(d.startswith(f"fb:v1:{item.id}:") and len(d.encode()) <= 64 for d in data)


async def test_the_buttons_adjust_the_item(sim, sessions, lina):
    await lina.send("/feedback 希望加夜间模式")
    card = card_of(lina)

    await lina.press(card, "Experience")
    await lina.press(card, "Opinion leader")
    await lina.press(card, "High")
    await lina.press(card, "+10 users")
    await lina.press(card, "−1 user")

    shown = current(sim, card)
    assert {"✓ Experience", "✓ Opinion leader", "✓ High"} <= set(shown.labels)
    assert "User segment: Opinion leader" in shown.plain
    assert "Users who raised it: 10" in shown.plain
    [item] = await _items(sessions)
    assert (item.category, item.segment, item.severity, item.count) == (
        "experience",
        "opinion_leader",
        "high",
        10,
    )

    await lina.press(shown, "✓ Opinion leader")  # the ticked segment clears it
    await lina.press(shown, "✅ Done")
    done = current(sim, card)
    assert "Saved." in done.plain and "User segment: —" in done.plain
    assert done.labels == ["✏️ Change"]
    await lina.press(done, "✏️ Change")
    assert "✓ High" in current(sim, card).labels


@pytest.mark.databases
async def test_a_double_tap_on_plus_counts_one(sim, sessions, lina):
    await lina.send("/feedback 希望加夜间模式")
    card = card_of(lina)
    plus = card.button("+1 user").callback_data

    await lina.press_data(card.message_id, card.chat_id, plus)
    answer = await lina.press_data(card.message_id, card.chat_id, plus)

    assert answer.show_alert and "meanwhile" in answer.text
    [item] = await _items(sessions)
    assert item.count == 2
    assert "Users who raised it: 2" in current(sim, card).plain


async def test_the_same_feedback_again_is_counted_not_duplicated(sim, sessions, lina, colleague):
    await lina.send("/feedback App crashes on login")
    await lina.send("/feedback app crashes on login!!")
    assert "counted again: now 2 users" in card_of(lina).plain

    await colleague.send("/feedback APP CRASHES ON LOGIN")
    theirs = card_of(colleague)
    assert "counted again: now 3 users" in theirs.plain
    assert "Recorded by Li Na" in theirs.plain and theirs.buttons == []
    [item] = await _items(sessions)
    assert item.count == 3


@pytest.mark.parametrize("words", ["same as #{id}", "同 #{id}", "+1 #{id}", "same as {id}"])
async def test_same_as_counts_an_item_up(sim, sessions, lina, colleague, words):
    await lina.send("/feedback 希望加夜间模式")
    [item] = await _items(sessions)

    await colleague.send("/feedback " + words.format(id=item.id))

    assert "now 2 users" in card_of(colleague).plain
    [item] = await _items(sessions)
    assert item.count == 2


async def test_same_as_an_unknown_item_says_so(sim, sessions, lina):
    await lina.send("/feedback same as #999")
    assert "no such feedback item" in card_of(lina).plain
    assert await _items(sessions) == []


async def test_the_list_shows_this_weeks_items_with_counts(sim, sessions, lina, colleague):
    await lina.send("/feedback App crashes on login")
    await lina.send("/feedback App crashes on login")
    await colleague.send("/feedback Too expensive <for> small shops")
    async with sessions() as s, s.begin():
        me = await s.scalar(select(Staff).where(Staff.telegram_id == lina.id))
        await feedback.record(s, me, "last week's", week_key="2026-W47")

    await lina.send("/feedback list")
    listing = card_of(lina)

    assert f"This week's feedback ({WEEK})" in listing.plain
    assert "2 items, raised by 3 users in all." in listing.plain
    lines = listing.plain.splitlines()
    crash = next(i for i, line in enumerate(lines) if "App crashes on login" in line)
    shops = next(i for i, line in enumerate(lines) if "Too expensive <for> small shops" in line)
    assert crash < shops and "×2 · Bug" in lines[crash] and "Zhao Min" in lines[shops]
    assert "last week's" not in listing.plain
    assert "&lt;for&gt;" in listing.text
    [button] = [b for row in listing.buttons for b in row]  # only my own item
    assert "App crashes" in button.text

    await lina.press(listing, button.text)
    assert "Category: Bug" in card_of(lina).plain and card_of(lina) is not listing
    await lina.send("/feedback 列表")
    assert "2 items" in card_of(lina).plain


async def test_feedback_alone_explains_how_to_use_it(sim, sessions, lina):
    await lina.send("/feedback")
    assert "/feedback same as #ID" in card_of(lina).plain
    assert "Forward a user's message" in card_of(lina).plain
    await lina.send("/feedback    ")
    assert "/feedback list" in card_of(lina).plain
    assert await _items(sessions) == []


async def test_feedback_that_is_too_long_is_refused(sim, sessions, lina):
    await lina.send("/feedback " + "x" * 5000)
    assert "too long (5,000 of 2,000 characters)" in card_of(lina).plain
    assert await _items(sessions) == []


async def test_html_in_feedback_is_shown_as_typed(sim, sessions, lina):
    await lina.send("/feedback <b>bold</b> & <i>")
    card = card_of(lina)
    assert "<b>bold</b> & <i>" in card.plain
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;" in card.text
    [item] = await _items(sessions)
    assert item.text == "<b>bold</b> & <i>"


async def test_a_long_feedback_is_clipped_on_the_card_with_a_full_text_button(sim, lina):
    text = "支付页面太慢。" * 100  # 700 characters
    await lina.send("/feedback " + text)
    card = card_of(lina)
    assert text not in card.plain and "clipped" in card.plain

    await lina.press(card, "📄 Full text")

    assert text in card_of(lina).plain


async def test_a_forwarded_message_is_recorded_with_who_wrote_it(sim, sessions, lina, outsider):
    await lina.forward("付款时一直报错 <b>", from_user=outsider)
    card = card_of(lina)
    assert "Forwarded from: 陌生人" in card.plain and "✓ Bug" in card.labels

    await lina.forward("希望能导出账单", sender_name="A customer")
    [first, second] = await _items(sessions)
    assert (first.source, first.forwarded_from, first.text) == (
        "forward",
        "陌生人",
        "付款时一直报错 <b>",
    )
    assert second.forwarded_from == "A customer"


async def _forward_photo(sim, persona, caption: str | None = None) -> None:
    """A forwarded photo (the simulator's forward() carries text only)."""
    origin = {"type": "hidden_user", "sender_user_name": "A customer", "date": sim.now()}
    extra = {
        "forward_origin": origin,
        "photo": [{"file_id": "photo-1", "file_unique_id": "u1", "width": 90, "height": 90}],
    }
    if caption is not None:
        extra["caption"] = caption
    persona.started = True
    message = sim.store_user_message(persona, persona.id, None, extra)
    await sim.dispatch({"message": sim.message_dict(message)})


async def test_a_forwarded_photo_keeps_its_caption(sim, sessions, lina):
    await _forward_photo(sim, lina, caption="这个按钮点了没反应")
    card = card_of(lina)
    assert "这个按钮点了没反应" in card.plain and "Only the caption was kept" in card.plain
    [item] = await _items(sessions)
    assert item.text == "这个按钮点了没反应" and item.source == "forward"


async def test_a_forwarded_photo_without_a_caption_asks_for_words(sim, sessions, lina):
    await _forward_photo(sim, lina)
    assert "no text to record" in card_of(lina).plain and "/feedback" in card_of(lina).plain
    assert await _items(sessions) == []


async def test_a_source_channel_is_picked_from_the_library(sim, sessions, lina):
    async with sessions() as s, s.begin():
        wang = await _person(s, 3003, "Wang", "channel")
        for i in range(7):
            await channels.create(
                s, name=f"渠道{i}", industry="property", region="shenyang", actor=wang, day=today()
            )
        await channels.create(
            s, name="万科<物业>", industry="property", region="shenyang", actor=wang, day=today()
        )
    await lina.send("/feedback 希望加夜间模式")
    card = card_of(lina)

    await lina.press(card, "📇 Source channel: —")
    picker = current(sim, card)
    assert "You own no channels" in picker.plain
    await lina.press(picker, "📚 All channels")
    picker = current(sim, card)
    assert "All channels (8)" in picker.plain and "Page 1 of 2" in picker.plain
    await lina.press(picker, "万科<物业>")

    shown = current(sim, card)
    assert "Source channel: 万科<物业>" in shown.plain
    assert "📇 Source channel: 万科<物业>" in shown.labels
    async with sessions() as s:
        vanke = await s.scalar(select(Channel).where(Channel.name == "万科<物业>"))
    [item] = await _items(sessions)
    assert item.channel_id == vanke.id

    await lina.press(shown, "📇 Source channel: 万科<物业>")
    await lina.press(current(sim, card), "📚 All channels")
    await lina.press(current(sim, card), "✖ No channel")
    [item] = await _items(sessions)
    assert item.channel_id is None


async def test_the_author_removes_an_item_after_confirming(sim, sessions, lina):
    await lina.send("/feedback 希望加夜间模式")
    card = card_of(lina)

    await lina.press(card, "🗑 Remove")
    assert "Remove this item?" in current(sim, card).plain
    await lina.press(card, "🔙 Back")
    assert len(await _items(sessions)) == 1
    await lina.press(card, "🗑 Remove")
    await lina.press(card, "🗑 Yes, remove it")

    assert "was removed: 希望加夜间模式" in current(sim, card).plain
    assert current(sim, card).buttons == []
    assert await _items(sessions) == []


async def test_someone_elses_card_buttons_are_refused(sim, sessions, lina, colleague):
    await lina.send("/feedback 希望加夜间模式")
    card = card_of(lina)
    data = card.button("High").callback_data

    answer = await colleague.press_data(card.message_id, card.chat_id, data)

    assert answer.show_alert and "Only the person who recorded" in answer.text
    [item] = await _items(sessions)
    assert item.severity == "medium"
    async with sessions() as s:
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "access.refused"))
    assert entry.actor_telegram_id == colleague.id and entry.target == data


async def test_items_are_frozen_once_the_weeks_summary_is_filed(sim, sessions, lina):
    await lina.send("/feedback 希望加夜间模式")
    card = card_of(lina)
    async with sessions() as s, s.begin():
        me = await s.scalar(select(Staff).where(Staff.telegram_id == lina.id))
        await _file_summary(s, me)

    answer = await lina.press(card, "High")

    assert answer.show_alert and "summary has been filed" in answer.text
    await lina.send("/feedback list")
    assert "can no longer be changed" in card_of(lina).plain and card_of(lina).buttons == []
    await lina.send("/feedback 希望加夜间模式")
    assert "can no longer be changed" in card_of(lina).plain and card_of(lina).buttons == []
    assert [i.severity for i in await _items(sessions)] == ["medium", "medium"]


@pytest.mark.parametrize(
    "suffix",
    ["zz:", "c:99", "c:x", "n:1.0", "n:1.-5", "n:1", "p:z0", "ch:999", "s:", "o"],
)
async def test_forged_buttons_change_nothing(sim, sessions, lina, suffix):
    await lina.send("/feedback 希望加夜间模式")
    card = card_of(lina)
    [item] = await _items(sessions)
    before = current(sim, card).plain

    answer = await lina.press_data(card.message_id, card.chat_id, f"fb:v1:{item.id}:{suffix}")

    assert answer.show_alert
    assert current(sim, card).plain == before
    [after] = await _items(sessions)
    assert (after.category, after.count, after.channel_id, after.segment) == (
        "feature",
        1,
        None,
        None,
    )


async def test_a_button_for_an_unknown_item_is_an_alert(sim, lina):
    await lina.send("/feedback 希望加夜间模式")
    card = card_of(lina)
    answer = await lina.press_data(card.message_id, card.chat_id, "fb:v1:999:c:0")
    assert answer.show_alert and "no such feedback item" in answer.text


async def test_people_outside_the_team_cannot_record_feedback(sim, sessions, lina, outsider):
    await outsider.send("/feedback 希望加夜间模式")
    await outsider.forward("希望加夜间模式", sender_name="x")
    assert await _items(sessions) == []
    assert len(outsider.inbox) == 2


@pytest.mark.databases
async def test_feedback_counts_for_the_team_week_not_the_utc_one(sim, sessions, lina, thursday):
    thursday.move_to(local("2026-11-30 07:00"))  # Monday morning in Shenyang, Sunday in UTC
    await lina.send("/feedback 希望加夜间模式")
    [item] = await _items(sessions)
    assert item.week_key == "2026-W49"


async def test_a_forward_is_feedback_not_unexpected_text(sim, sessions, lina):
    # Registered before the reports' typed-answer handler, which would otherwise take it.
    await lina.forward("希望加夜间模式", sender_name="x")
    assert "Feedback recorded" in card_of(lina).plain
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Feedback)) == 1


async def test_editing_a_feedback_message_records_nothing_more(sim, sessions, lina):
    sent = await lina.send("/feedback 希望加夜间模式")
    await lina.edit(sent, "/feedback 希望加日间模式")
    assert [i.text for i in await _items(sessions)] == ["希望加夜间模式"]
    assert "Editing a message I already handled changes nothing" in lina.inbox[-1].plain
