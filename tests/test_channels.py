"""The channel library: dedupe, stages and their history, search, day stats, and /channel."""

import asyncio
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from support import TZ, make_staff

from bot import clock
from bot.calendar import local_date
from bot.forms.spec import default_reports
from bot.models import AuditLog, Channel, ChannelStageChange, Staff
from bot.render import render
from bot.services import channels
from bot.services import staff as staff_service
from bot.services.channels import ChannelError
from bot.services.staff import Person
from bot.simulator.html import parse_html, utf16_len

REPORTS = default_reports()
VOCABULARY = dict(regions=REPORTS.regions, industries=REPORTS.industries)
HOSTILE = "<zz>&"
ESCAPED = "&lt;zz&gt;&amp;"


async def _person(s, telegram_id: int, name: str, role: str = "channel") -> Staff:
    return await staff_service.add(s, Person(telegram_id, name, None, "en"), [role], None)


async def _add(s, actor, name, region="shenyang", industry="property", **kw) -> Channel:
    kw.setdefault("day", local_date(clock.now(), TZ))
    return await channels.create(
        s, name=name, region=region, industry=industry, actor=actor, **VOCABULARY, **kw
    )


# ---- names, phones, contacts ----------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        ("万科物业有限公司", "万科物业"),
        ("万科 物业", "万科物业"),
        ("万科物业（沈阳）有限责任公司", "万科物业(沈阳)"),
        ("ＡＢＣ物业集团股份有限公司", "abc物业"),
        ("Vanke Co., Ltd.", "VANKE"),
    ],
)
def test_it_normalises_names_that_mean_the_same_company(a, b):
    assert channels.normalise(a) == channels.normalise(b)


def test_it_keeps_different_companies_apart():
    assert channels.normalise("万科物业") != channels.normalise("万达物业")
    assert channels.normalise("有限公司")  # a name that is all suffix still has a key


def test_it_splits_a_contact_from_its_phone():
    assert channels.split_contact("张三 138 0000 0000") == ("张三", "138 0000 0000")
    assert channels.split_contact("李四，+86 138-0000-0000") == ("李四", "+86 138-0000-0000")
    assert channels.split_contact("王经理") == ("王经理", None)
    assert channels.split_contact("13800000000") == (None, "13800000000")


@pytest.mark.parametrize("phone", ["12345", "1380000000x", "138+0000000", "1" * 21, "++86123456"])
def test_it_refuses_what_is_not_a_phone_number(phone):
    with pytest.raises(ChannelError) as caught:
        channels.clean_phone(phone)
    assert caught.value.reason == "bad_phone"


# ---- creating and deduplicating -------------------------------------------------------------


@pytest.mark.databases
async def test_it_creates_a_lead_owned_by_the_actor_with_its_first_stage_change(sessions):
    async with sessions() as s, s.begin():
        actor = await _person(s, 1, "Wang")
        channel = await _add(s, actor, "  万科物业   有限公司 ", phone="138 0000 0000")
        changes = await channels.history(s, channel.id)
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "channel.create"))

    assert (channel.name, channel.norm_name, channel.stage) == (
        "万科物业 有限公司",
        "万科物业",
        "lead",
    )
    assert channel.owner_id == channel.created_by == actor.id
    assert [(c.from_stage, c.to_stage, c.by_staff_id) for c in changes] == [
        (None, "lead", actor.id)
    ]
    assert changes[0].day == local_date(clock.now(), TZ)
    assert entry.target == f"channel:{channel.id}" and entry.actor_telegram_id == 1


@pytest.mark.databases
async def test_it_creates_a_channel_for_someone_else_on_a_given_day(sessions):
    async with sessions() as s, s.begin():
        director = await _person(s, 1, "Zhang", "director")
        manager = await _person(s, 2, "Wang")
        channel = await _add(s, director, "国网沈阳", owner=manager, day=date(2026, 5, 4))
        [change] = await channels.history(s, channel.id)
    assert channel.owner_id == manager.id and channel.created_by == director.id
    assert change.day == date(2026, 5, 4)


@pytest.mark.databases
@pytest.mark.parametrize(
    "kw, reason",
    [
        (dict(name="   "), "name_empty"),
        (dict(name="长" * 129), "name_too_long"),
        (dict(region="beijing"), "unknown_region"),
        (dict(industry="bank"), "unknown_industry"),
        (dict(phone="call me"), "bad_phone"),
        (dict(difficulty="impossible"), "unknown_difficulty"),
        (dict(contact="张" * 65), "contact_too_long"),
        (dict(notes="x" * 1001), "notes_too_long"),
    ],
)
async def test_it_refuses_bad_input_and_adds_nothing(sessions, kw, reason):
    async with sessions() as s, s.begin():
        actor = await _person(s, 1, "Wang")
        with pytest.raises(ChannelError) as caught:
            await _add(s, actor, **({"name": "万科物业"} | kw))
        assert caught.value.reason == reason
        assert await s.scalar(select(func.count()).select_from(Channel)) == 0


@pytest.mark.databases
async def test_a_name_of_128_characters_is_fine(sessions):
    async with sessions() as s, s.begin():
        actor = await _person(s, 1, "Wang")
        channel = await _add(s, actor, "长" * 128)
    assert len(channel.name) == 128


@pytest.mark.databases
async def test_it_finds_a_duplicate_in_the_same_region_only(sessions):
    async with sessions() as s, s.begin():
        actor = await _person(s, 1, "Wang")
        first = await _add(s, actor, "万科物业有限公司")
        await _add(s, actor, "万科物业", region="dalian")
        found = await channels.find_duplicate(s, "万科 物业", "shenyang")
        elsewhere = await channels.find_duplicate(s, "万科物业", "anshan")
    assert found.id == first.id
    assert elsewhere is None


# ---- stages ---------------------------------------------------------------------------------


@pytest.mark.databases
async def test_it_moves_a_channel_and_keeps_the_history(sessions):
    day = date(2026, 5, 6)
    async with sessions() as s, s.begin():
        actor = await _person(s, 1, "Wang")
        channel = await _add(s, actor, "万科物业")
        created_at = channel.updated_at
        change = await channels.set_stage(s, channel, "negotiating", actor, day)
        again = await channels.set_stage(s, channel, "negotiating", actor, day)
        changes = await channels.history(s, channel.id)
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "channel.stage"))
        logged = (await s.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()

    assert (change.from_stage, change.to_stage, change.day) == ("lead", "negotiating", day)
    assert change.id == changes[-1].id and change.by_staff_id == actor.id
    assert logged[-2:] == ["channel.create", "channel.stage"]  # in the order they were done
    assert again is None
    assert channel.stage == "negotiating" and channel.updated_at >= created_at
    assert [c.to_stage for c in changes] == ["lead", "negotiating"]
    assert entry.details == {"before": "lead", "after": "negotiating", "day": "2026-05-06"}


@pytest.mark.databases
async def test_a_move_from_a_stage_the_channel_has_left_changes_nothing(sessions):
    async with sessions() as s, s.begin():
        actor = await _person(s, 1, "Wang")
        channel = await _add(s, actor, "万科物业")
        await channels.set_stage(s, channel, "contacted", actor, date(2026, 5, 6))
        with pytest.raises(ChannelError) as caught:
            await channels.set_stage(s, channel, "lost", actor, date(2026, 5, 6), expected="lead")
        with pytest.raises(ChannelError) as unknown:
            await channels.set_stage(s, channel, "won", actor, date(2026, 5, 6))
    assert caught.value.reason == "stale" and unknown.value.reason == "unknown_stage"
    assert channel.stage == "contacted"


@pytest.mark.databases
async def test_a_move_that_someone_else_made_first_writes_no_history_and_no_audit(sessions):
    async with sessions() as s, s.begin():
        actor = await _person(s, 1, "Wang")
        channel = await _add(s, actor, "万科物业")
    async with sessions() as s, s.begin():
        seen = await s.get(Channel, channel.id)  # drawn on a card: "lead"
        async with sessions() as other, other.begin():  # meanwhile, another press moved it
            mine = await other.get(Staff, actor.id)
            moved = await other.get(Channel, channel.id)
            await channels.set_stage(other, moved, "contacted", mine, date(2026, 5, 6))
        with pytest.raises(ChannelError) as caught:
            await channels.set_stage(
                s, seen, "lost", await s.get(Staff, actor.id), date(2026, 5, 6)
            )
    async with sessions() as s:
        stages = [c.to_stage for c in await channels.history(s, channel.id)]
        entries = await s.scalars(
            select(AuditLog.details).where(AuditLog.action == "channel.stage")
        )
        now = await s.scalar(select(Channel.stage).where(Channel.id == channel.id))
    assert caught.value.reason == "stale"
    assert stages == ["lead", "contacted"] and now == "contacted"
    assert [e["after"] for e in entries] == ["contacted"]


@pytest.mark.databases
async def test_it_counts_a_persons_day(sessions):
    today, yesterday = date(2026, 5, 6), date(2026, 5, 5)
    async with sessions() as s, s.begin():
        wang = await _person(s, 1, "Wang")
        li = await _person(s, 2, "Li")
        a = await _add(s, wang, "万科物业", day=today)
        b = await _add(s, wang, "国网沈阳", day=today)
        c = await _add(s, wang, "华润物业", day=yesterday)
        await _add(s, li, "保利物业", day=today)
        await channels.set_stage(s, a, "signed", wang, today)
        await channels.set_stage(s, a, "negotiating", wang, today)
        await channels.set_stage(s, a, "signed", wang, today)  # the same channel counts once
        await channels.set_stage(s, b, "live", li, today)  # moved by Li, not by Wang
        await channels.set_stage(s, c, "contacted", wang, yesterday)
        stats = await channels.stats_for_day(s, wang.id, today)

    assert stats.created == 2
    assert stats.moved_to["signed"] == 1 and stats.moved_to["negotiating"] == 1
    assert stats.moved_to["live"] == 0 and stats.moved_to["lead"] == 0
    assert stats.in_stage == {
        "lead": 0,
        "contacted": 1,
        "negotiating": 0,
        "signed": 1,
        "live": 1,
        "lost": 0,
    }


# ---- details --------------------------------------------------------------------------------


@pytest.mark.databases
async def test_it_sets_and_clears_details(sessions):
    async with sessions() as s, s.begin():
        actor = await _person(s, 1, "Wang")
        channel = await _add(s, actor, "万科物业")
        await channels.set_field(s, channel, "contact", "张三 13800000000", actor)
        await channels.set_field(s, channel, "notes", "先找\n物业经理", actor)
        await channels.set_field(s, channel, "difficulty", "HARD", actor)
        await channels.set_field(s, channel, "name", "万科物业沈阳分公司", actor)
        assert (channel.contact, channel.phone) == ("张三", "13800000000")
        assert (channel.notes, channel.difficulty) == ("先找\n物业经理", "hard")
        assert channel.norm_name == "万科物业沈阳"
        await channels.set_field(s, channel, "phone", "-", actor)
        await channels.set_field(s, channel, "notes", "", actor)
        assert channel.phone is None and channel.notes is None and channel.contact == "张三"
        with pytest.raises(ChannelError):
            await channels.set_field(s, channel, "owner", "Li", actor)


# ---- lists and search -----------------------------------------------------------------------


@pytest.mark.databases
async def test_my_channels_come_most_recently_updated_first_and_in_pages(sessions):
    start = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)
    async with sessions() as s, s.begin():
        wang = await _person(s, 1, "Wang")
        li = await _person(s, 2, "Li")
        made = []
        for i in range(10):
            clock.start_at(start + timedelta(minutes=i))
            made.append(await _add(s, wang, f"渠道{i}"))
        await _add(s, li, "保利物业")
        clock.start_at(start + timedelta(hours=1))
        await channels.set_stage(s, made[0], "contacted", wang, date(2026, 5, 6))
        first = await channels.page_mine(s, wang.id, 0, 8)
        second = await channels.page_mine(s, wang.id, 1, 8)
        past_the_end = await channels.page_mine(s, wang.id, 5, 8)  # the list shrank meanwhile
        nothing = await channels.page_mine(s, li.id + 1, 3, 8)

    assert [c.name for c in first.channels] == ["渠道0", *(f"渠道{i}" for i in range(9, 2, -1))]
    assert [c.name for c in second.channels] == ["渠道2", "渠道1"]
    assert (first.total, second.total, first.pages(8), second.number) == (10, 10, 2, 1)
    assert (past_the_end.channels, past_the_end.number) == (second.channels, 1)
    assert (nothing.channels, nothing.total, nothing.number) == ([], 0, 0)


@pytest.mark.databases
async def test_it_searches_by_name_region_industry_and_pinyin(sessions):
    async with sessions() as s, s.begin():
        actor = await _person(s, 1, "Wang")
        vanke = await _add(s, actor, "万科物业有限公司")
        grid = await _add(s, actor, "国网沈阳供电公司", industry="power")
        dalian = await _add(s, actor, "大连万达物业", region="dalian")

        async def names(query, **kw):
            return {c.name for c in await channels.search(s, query, **VOCABULARY, **kw)}

        assert await names("万科") == {vanke.name}
        assert await names("物业") == {vanke.name, dalian.name}
        assert await names("沈阳") == {vanke.name, grid.name}
        assert await names("沈阳市") == {vanke.name, grid.name}
        assert await names("Dalian") == {dalian.name}
        assert await names("power") == {grid.name}
        assert await names("电力企业") == {grid.name}
        assert await names("wk") == {vanke.name}
        assert await names("WANKE") == {vanke.name}
        assert await names("沈阳 物业") == {vanke.name}  # every word has to match
        assert await names("万科物业有限公司") == {vanke.name}
        assert await names("   ") == set()
        assert await names("%") == set()  # LIKE wildcards are plain characters
        assert await names("_") == set()
        found = await channels.page_search(s, "物业", 0, 1, **VOCABULARY)
        assert (len(found.channels), found.total, found.pages(1)) == (1, 2, 2)
        assert (await channels.page_search(s, "   ", 0, 8, **VOCABULARY)).total == 0


@pytest.mark.databases
async def test_a_whole_name_typed_comes_first(sessions):
    start = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)
    async with sessions() as s, s.begin():
        actor = await _person(s, 1, "Wang")
        clock.start_at(start)
        await _add(s, actor, "万科物业")
        clock.start_at(start + timedelta(minutes=5))
        await _add(s, actor, "万科物业沈阳分公司")
        [found] = await channels.search(s, "万科物业有限公司", limit=1)
    assert found.name == "万科物业"


@pytest.mark.databases
async def test_drafts_belong_to_their_author_and_expire(sessions):
    async with sessions() as s, s.begin():
        wang = await _person(s, 1, "Wang")
        li = await _person(s, 2, "Li")
        draft = await channels.start_draft(s, " 万科物业 ", wang)
        assert await channels.draft_name(s, draft, wang) == "万科物业"
        for who, moment in ((li, clock.now()), (wang, clock.now() + timedelta(days=8))):
            clock.start_at(moment)
            with pytest.raises(ChannelError):
                await channels.draft_name(s, draft, who)
        with pytest.raises(ChannelError):
            await channels.start_draft(s, "x" * 129, wang)


@pytest.mark.databases
async def test_two_presses_at_once_on_one_draft_add_one_channel(sessions):
    async with sessions() as s, s.begin():
        actor = await _person(s, 1, "Wang")
        draft = await channels.start_draft(s, "万科物业", actor)

    async def press() -> None:
        async with sessions() as s, s.begin():
            name = await channels.draft_name(s, draft, actor)
            if await channels.find_duplicate(s, name, "shenyang") is None:
                await _add(s, actor, name)

    # The second press waits for the first to commit, then finds its channel.
    outcomes = await asyncio.gather(press(), press(), return_exceptions=True)

    assert outcomes == [None, None]

    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Channel)) == 1


# ---- templates ------------------------------------------------------------------------------


def _hostile_channel(**kw):
    base = dict(id=7, name=HOSTILE, contact=HOSTILE, phone=HOSTILE, notes=HOSTILE, stage="lead")
    return SimpleNamespace(**(base | kw))


_ITEM = dict(channel=_hostile_channel(), region=HOSTILE, industry=HOSTILE, stage=HOSTILE)
_CARD = _ITEM | dict(
    difficulty=HOSTILE,
    owner=HOSTILE,
    changes=[
        dict(when=datetime.now(UTC), who=HOSTILE, before=None, after=HOSTILE),
        dict(when=datetime.now(UTC), who=HOSTILE, before=HOSTILE, after=HOSTILE),
    ],
)
# Every channel template with every user-controlled value hostile (for tests/test_i18n.py too).
CONTEXTS = {
    "channel_list.html.j2": dict(kind="q", query=HOSTILE, items=[_ITEM], page=1, pages=2, total=9),
    "channel_card.html.j2": _CARD | dict(notice="created"),
    "channel_duplicate.html.j2": _CARD | dict(name=HOSTILE),
    "channel_pick_region.html.j2": dict(name=HOSTILE, page=1, pages=2),
    "channel_pick_industry.html.j2": dict(name=HOSTILE, region=HOSTILE),
}
NO_USER_INPUT = {"channel_help.html.j2", "channel_cancelled.html.j2", "channel_error.html.j2"}
ERROR_REASONS = [
    "name_empty",
    "name_too_long",
    "contact_too_long",
    "notes_too_long",
    "bad_phone",
    "unknown_difficulty",
    "unknown_region",
    "set_usage",
    "not_found",
    "stale_stage",
    "already_there",
    "stale",
]


# tests/test_i18n.py renders every template in CONTEXTS with hostile input.


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_templates_without_user_input_are_valid_telegram_html(locale):
    for name in sorted(NO_USER_INPUT - {"channel_error.html.j2"}):
        assert parse_html(render(name, locale))[0].strip()
    for reason in ERROR_REASONS:
        assert parse_html(render("channel_error.html.j2", locale, reason=reason, max=9))[0]


def test_the_longest_card_fits_in_one_message():
    longest = _hostile_channel(
        name="长" * 128, contact="张" * 64, phone="1" * 20, notes="注" * 1000
    )
    changes = [dict(when=datetime.now(UTC), who="人" * 128, before="阶段", after="阶段")] * 5
    text = render(
        "channel_card.html.j2",
        "zh",
        **(_CARD | dict(channel=longest, changes=changes, notice="saved")),
    )
    assert utf16_len(parse_html(text)[0]) <= 4096


# ---- /channel through the simulator ---------------------------------------------------------


@pytest.fixture
def manager(sim):
    """A channel manager who reads English (so the text does not change when zh is merged)."""
    return sim.user(id=2004, first_name="Wei", last_name="Wang", language_code="en")


@pytest.fixture
async def team(app, sessions, director, manager):
    await make_staff(sessions, director, "director")
    await make_staff(sessions, manager, "channel")


def _datas(message) -> list[str]:
    return [b.callback_data for row in message.buttons for b in row if b.callback_data]


async def _add_by_buttons(user, name, region="Shenyang", industry="Property management"):
    await user.send(f"/channel new {name}")
    picker = user.inbox[-1]
    await user.press(picker, region)
    await user.press(picker, industry)
    return user.sim.message(picker.chat_id, picker.message_id)


async def _channel_rows(sessions):
    async with sessions() as s:
        return list(await s.scalars(select(Channel).order_by(Channel.id)))


async def test_a_channel_manager_adds_a_channel_with_buttons(team, sim, sessions, manager):
    await manager.send("/channel new 万科物业有限公司")
    picker = manager.inbox[-1]
    assert "万科物业有限公司" in picker.plain and "Which region" in picker.plain
    assert picker.labels[0] == "Shenyang"

    await manager.press(picker, "Shenyang")
    assert "Which industry?" in sim.message(picker.chat_id, picker.message_id).plain
    await manager.press(picker, "Property management")

    card = sim.message(picker.chat_id, picker.message_id)
    assert "Added to the library." in card.plain
    assert "Shenyang" in card.plain and "Property management" in card.plain
    assert "✓ Lead" in card.labels
    [channel] = await _channel_rows(sessions)
    assert (channel.name, channel.region, channel.industry) == (
        "万科物业有限公司",
        "shenyang",
        "property",
    )
    assert f"#{channel.id}" in card.plain


async def test_a_duplicate_is_shown_before_anything_is_added(team, sim, sessions, manager):
    await _add_by_buttons(manager, "万科物业有限公司")
    await manager.send("/channel new 万科 物业")
    picker = manager.inbox[-1]
    await manager.press(picker, "Shenyang")

    prompt = sim.message(picker.chat_id, picker.message_id)
    assert "already has a channel" in prompt.plain and "万科物业有限公司" in prompt.plain
    await manager.press(prompt, "Use the existing one")
    assert "万科物业有限公司" in sim.message(picker.chat_id, picker.message_id).plain
    assert len(await _channel_rows(sessions)) == 1

    await manager.send("/channel new 万科 物业")
    picker = manager.inbox[-1]
    await manager.press(picker, "Shenyang")
    await manager.press(picker, "Create anyway")
    await manager.press(picker, "Property management")
    assert "Added to the library." in sim.message(picker.chat_id, picker.message_id).plain
    assert [c.name for c in await _channel_rows(sessions)] == ["万科物业有限公司", "万科 物业"]


@pytest.mark.databases
async def test_a_second_tap_on_the_same_industry_button_adds_nothing(team, sim, sessions, manager):
    await manager.send("/channel new 万科物业")
    picker = manager.inbox[-1]
    await manager.press(picker, "Shenyang")
    industry = sim.message(picker.chat_id, picker.message_id).button("Property management")
    await manager.press(picker, "Property management")

    await manager.press_data(picker.message_id, picker.chat_id, industry.callback_data)

    assert len(await _channel_rows(sessions)) == 1
    assert "already has a channel" in sim.message(picker.chat_id, picker.message_id).plain


async def test_a_region_outside_the_configured_ones_is_refused(team, sim, sessions, manager):
    await manager.send("/channel new 万科物业")
    picker = manager.inbox[-1]
    draft = picker.buttons[0][0].callback_data.split(":")[3]

    answer = await manager.press_data(
        picker.message_id, picker.chat_id, f"ch:v1:ni:{draft}:beijing:property:0"
    )

    assert answer.show_alert
    assert await _channel_rows(sessions) == []


async def test_a_draft_cannot_be_finished_by_someone_else(team, sim, sessions, director, manager):
    await manager.send("/channel new 万科物业")
    picker = manager.inbox[-1]
    draft = picker.buttons[0][0].callback_data.split(":")[3]

    answer = await director.press_data(
        picker.message_id, picker.chat_id, f"ch:v1:ni:{draft}:shenyang:property:0"
    )

    assert answer.show_alert
    assert await _channel_rows(sessions) == []


async def test_adding_can_be_cancelled(team, sim, sessions, manager):
    await manager.send("/channel new 万科物业")
    picker = manager.inbox[-1]
    await manager.press(picker, "✖ Cancel")
    assert "Nothing was added" in sim.message(picker.chat_id, picker.message_id).plain
    assert await _channel_rows(sessions) == []


async def test_bad_names_are_refused(team, sessions, manager):
    await manager.send("/channel new " + "长" * 129)
    assert "too long" in manager.inbox[-1].plain
    await manager.send("/channel new")
    assert "Give the channel a name" in manager.inbox[-1].plain
    assert await _channel_rows(sessions) == []


async def test_stage_buttons_move_the_channel_and_redraw_the_card(team, sim, sessions, manager):
    card = await _add_by_buttons(manager, "万科物业")

    await manager.press(card, "Negotiating")

    card = sim.message(card.chat_id, card.message_id)
    assert "✓ Negotiating" in card.labels and "Lead" in card.labels
    assert "Stage changed." in card.plain
    assert "Wei Wang: Lead → Negotiating" in card.plain
    async with sessions() as s:
        channel = await s.scalar(select(Channel))
        moves = await s.scalar(select(func.count()).select_from(ChannelStageChange))
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "channel.stage"))
    assert channel.stage == "negotiating" and moves == 2
    assert audit.actor_telegram_id == manager.id

    answer = await manager.press(card, "✓ Negotiating")
    assert not answer.show_alert and "already" in answer.text


async def test_a_press_on_an_old_card_changes_nothing(team, sim, sessions, director, manager):
    card = await _add_by_buttons(manager, "万科物业")
    old = [row[:] for row in card.buttons]
    await manager.press(card, "Signed")

    lost = next(b for row in old for b in row if b.text == "Lost")
    answer = await manager.press_data(card.message_id, card.chat_id, lost.callback_data)

    assert answer.show_alert and "changed the stage meanwhile" in answer.text
    assert "✓ Signed" in sim.message(card.chat_id, card.message_id).labels
    [channel] = await _channel_rows(sessions)
    assert channel.stage == "signed"


async def test_a_director_can_move_a_channel_too(team, sim, sessions, director, manager):
    await _add_by_buttons(manager, "万科物业")
    await director.send("/channel all")
    listing = director.inbox[-1]
    await director.press(listing, listing.buttons[0][0].text)
    card = sim.message(listing.chat_id, listing.message_id)

    await director.press(card, "ch:v1:st:1:03:a0")

    [channel] = await _channel_rows(sessions)
    assert channel.stage == "signed"
    async with sessions() as s:
        change = await s.scalar(
            select(ChannelStageChange).where(ChannelStageChange.to_stage == "signed")
        )
        director_row = await s.scalar(select(Staff).where(Staff.telegram_id == director.id))
    assert change.by_staff_id == director_row.id


async def test_my_channels_are_listed_in_pages(team, sim, sessions, manager):
    async with sessions() as s, s.begin():
        me = await s.scalar(select(Staff).where(Staff.telegram_id == manager.id))
        for i in range(10):
            await _add(s, me, f"渠道{i:02}")

    await manager.send("/channel")
    listing = manager.inbox[-1]
    assert "My channels (10)" in listing.plain and "Page 1 of 2" in listing.plain
    assert sum(1 for d in _datas(listing) if d.startswith("ch:v1:c:")) == 8
    assert "➕ New channel" in listing.labels

    await manager.press(listing, "▶")
    page2 = sim.message(listing.chat_id, listing.message_id)
    assert "Page 2 of 2" in page2.plain
    assert sum(1 for d in _datas(page2) if d.startswith("ch:v1:c:")) == 2
    await manager.press(page2, "◀")
    assert "Page 1 of 2" in sim.message(listing.chat_id, listing.message_id).plain


async def test_search_opens_a_card_and_back_returns_to_the_results(team, sim, manager):
    await _add_by_buttons(manager, "万科物业")
    await _add_by_buttons(manager, "国网沈阳供电", industry="Power company")

    await manager.send("/channel wk")
    results = manager.inbox[-1]
    assert "Search: wk (1)" in results.plain and "万科物业" in results.plain

    await manager.press(results, results.buttons[0][0].text)
    card = sim.message(results.chat_id, results.message_id)
    assert "Stage history" in card.plain
    await manager.press(card, "🔙 Back")
    assert "Search: wk (1)" in sim.message(results.chat_id, results.message_id).plain


async def test_a_search_without_results_says_so_and_offers_to_add_it(team, sim, sessions, manager):
    await manager.send("/channel 华润物业")
    results = manager.inbox[-1]
    assert "Nothing found" in results.plain

    await manager.press(results, "➕ Add “华润物业”")
    await manager.press(results, "Dalian")
    await manager.press(results, "Property management")

    [channel] = await _channel_rows(sessions)
    assert (channel.name, channel.region) == ("华润物业", "dalian")


async def test_the_new_channel_button_explains_how_to_add(team, manager):
    await manager.send("/channel")
    await manager.press(manager.inbox[-1], "➕ New channel")
    assert "/channel new NAME" in manager.inbox[-1].plain


async def test_details_are_set_with_a_command(team, sim, sessions, manager):
    await _add_by_buttons(manager, "万科物业")
    [channel] = await _channel_rows(sessions)

    await manager.send(f"/channel set {channel.id} contact 张三 138 0000 0000")
    await manager.send(f"/channel set {channel.id} difficulty hard")
    await manager.send(f"/channel set {channel.id} notes 先找物业经理\n周三再去")
    card = manager.inbox[-1]

    assert "Saved." in card.plain and "张三 138 0000 0000" in card.plain
    assert "Difficulty: Hard" in card.plain and "先找物业经理\n周三再去" in card.plain
    await manager.send(f"/channel set {channel.id} phone 12")
    assert "does not look like a phone number" in manager.inbox[-1].plain
    await manager.send(f"/channel set {channel.id} difficulty impossible")
    assert "easy, medium, hard" in manager.inbox[-1].plain
    await manager.send("/channel set 999 notes x")
    assert "no such channel" in manager.inbox[-1].plain
    await manager.send("/channel set x")
    assert "/channel set 12 difficulty hard" in manager.inbox[-1].plain
    [channel] = await _channel_rows(sessions)
    assert (channel.phone, channel.difficulty) == ("138 0000 0000", "hard")


async def test_a_card_of_an_unknown_channel_is_an_alert(team, sim, manager):
    await manager.send("/channel")
    listing = manager.inbox[-1]
    answer = await manager.press_data(listing.message_id, listing.chat_id, "ch:v1:c:999:m0")
    assert answer.show_alert and "no such channel" in answer.text


@pytest.mark.parametrize(
    "data", ["ch:v1:zz:1", "ch:v1:c:x:m0", "ch:v1:st:1:9:m0", "ch:v1:ls:z9", "ch:v1:nr:1"]
)
async def test_forged_buttons_change_nothing(team, sim, sessions, manager, data):
    card = await _add_by_buttons(manager, "万科物业")
    before = sim.message(card.chat_id, card.message_id).plain

    answer = await manager.press_data(card.message_id, card.chat_id, data)

    assert answer.show_alert
    assert sim.message(card.chat_id, card.message_id).plain == before
    [channel] = await _channel_rows(sessions)
    assert channel.stage == "lead"


async def test_html_in_names_is_shown_as_typed(team, sim, manager):
    card = await _add_by_buttons(manager, "<b>&amp; 公司")
    assert "&lt;b&gt;&amp;amp; 公司" in card.text
    assert "<b>&amp; 公司" in card.plain
    await manager.send("/channel <b>")
    assert "Search: <b>" in manager.inbox[-1].plain
    assert "<b>&amp; 公司" in manager.inbox[-1].plain


async def test_a_long_search_still_works_without_paging(team, sim, sessions, manager):
    name = "沈阳市浑南区某某某物业服务有限公司第一分公司"
    async with sessions() as s, s.begin():
        me = await s.scalar(select(Staff).where(Staff.telegram_id == manager.id))
        await _add(s, me, name)

    await manager.send(f"/channel {name}")
    results = manager.inbox[-1]
    await manager.press(results, results.buttons[0][0].text)
    card = sim.message(results.chat_id, results.message_id)
    assert name in card.plain
    assert all(len(d.encode()) <= 64 for d in _datas(card))


async def test_people_without_the_role_are_refused(
    app, sim, sessions, director, user_ops_manager, outsider, manager
):
    await make_staff(sessions, director, "director")
    await make_staff(sessions, user_ops_manager, "activity")  # activity operations: no library

    await user_ops_manager.send("/channel")
    refusal = user_ops_manager.inbox[-1].plain
    assert "Channel-expansion manager" in refusal and "My channels" not in refusal
    await outsider.send("/channel new 万科物业")
    assert "/start" in outsider.inbox[-1].plain
    answer = await user_ops_manager.press_data(1, user_ops_manager.id, "ch:v1:st:1:03:m0")
    assert answer.show_alert
    assert await _channel_rows(sessions) == []
    async with sessions() as s:
        refused = await s.scalar(select(AuditLog).where(AuditLog.action == "access.refused"))
    assert refused.target == "ch:v1:st:1:03:m0"


async def test_user_operations_read_the_library_and_change_nothing(
    team, sim, sessions, manager, user_ops_manager
):
    await _add_by_buttons(manager, "万科物业")
    await make_staff(sessions, user_ops_manager, "user_ops")  # 用户运营：渠道资源使用权
    read_only = "channel managers and directors change it"

    await user_ops_manager.send("/channel")
    listing = user_ops_manager.inbox[-1]
    assert "万科物业" in listing.plain  # all channels: a reader owns none
    assert not any("New channel" in label or "My channels" in label for label in listing.labels)
    await user_ops_manager.press(listing, listing.buttons[0][0].text)
    card = sim.message(listing.chat_id, listing.message_id)
    assert "万科物业" in card.plain and card.labels == ["🔙 Back"]

    answer = await user_ops_manager.press_data(card.message_id, card.chat_id, "ch:v1:st:1:03:a0")
    assert answer.show_alert and read_only in answer.text
    for command in ("/channel new 华润物业", "/channel set 1 difficulty hard"):
        await user_ops_manager.send(command)
        assert read_only in user_ops_manager.inbox[-1].plain
    await user_ops_manager.send("/channel 华润")  # found nothing: no offer to add it
    assert not _datas(user_ops_manager.inbox[-1])
    [channel] = await _channel_rows(sessions)
    assert channel.stage == "lead" and channel.difficulty is None


async def test_every_button_fits_in_64_bytes(team, sim, sessions, manager):
    await _add_by_buttons(manager, "长" * 128)
    await manager.send("/channel " + "长" * 30)
    await manager.send("/channel all")
    for message in manager.inbox:
        assert all(len(d.encode()) <= 64 for d in _datas(message))
