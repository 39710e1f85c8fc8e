"""Hostile input, by property: whatever is typed, pressed or forwarded, no handler raises, Telegram
refuses nothing the bot sends, and the person gets an answer.

Hypothesis runs inside the async tests (pytest-asyncio drives `@given` coroutines); the bot and
its database are fixtures, so they live across examples: every example starts by putting its
person back where it starts (/cancel), and later examples meet what earlier ones left behind,
which is part of the point. FUZZ_PROFILE=ci (default) is derandomized; FUZZ_PROFILE=deep hunts.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
import time_machine
from fuzz_support import (
    MAX_MESSAGE,
    REPORTS,
    Bend,
    Press,
    Referee,
    Send,
    TracebackLog,
    callback_data,
    dates,
    fuzz_settings,
    hostile,
    numbers,
    one_message,
    referee,
    sendable,
    steps,
)
from fuzz_support import answers_for as _answers_for
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from support import local, make_staff
from telegram.ext import CallbackQueryHandler, CommandHandler
from test_activity_flow import PLAN

from bot import sender
from bot.models import Feedback, Staff
from bot.services import activities, task_series, tasks
from bot.simulator import Group, Persona
from bot.simulator.html import utf16_len
from bot.telegram_io import TelegramTransport
from jobs.tick import tick

PLAN_ANSWERS = {
    "title": "周末<b>缴费</b>送积分 &amp;", "purpose": "拉新", "mode": "online",
    "targets": [{"indicator": "下载量", "target": "5000", "unit": "次"}],
    "start_date": "2026-12-01", "end_date": "2026-12-07", "region": "shenyang",
    "budget": 300_000, "expected_return": "注册 800", "risks": "刷分",
}  # fmt: skip


def answers(form_key: str) -> st.SearchStrategy[str]:
    """Answers to any question of one form."""
    return st.one_of(*(_answers_for(f, REPORTS) for f in REPORTS.form(form_key).fields))


def registered(app) -> set[str]:
    """Every command some handler of `app` takes."""
    return {
        command
        for group in app.handlers.values()
        for handler in group
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }


@dataclass
class Team:
    """The people (and the group) every fuzz test plays with."""

    director: Persona
    wang: Persona  # channel-expansion and activity manager
    lina: Persona  # user operations
    outsider: Persona
    group: Group

    @property
    def everyone(self) -> list[Persona]:
        return [self.director, self.wang, self.lina, self.outsider]


@pytest.fixture
def thursday():
    with time_machine.travel(local("2026-11-26 10:00"), tick=True) as traveller:
        yield traveller


@pytest.fixture
def ref(app, sim) -> Iterator[Referee]:
    judge = referee(app, sim)
    watch = TracebackLog(judge.tracebacks)
    logging.getLogger().addHandler(watch)
    yield judge
    logging.getLogger().removeHandler(watch)


@pytest.fixture
async def team(
    app, sim, sessions, ref, thursday, director, channel_manager, user_ops_manager, outsider
) -> Team:
    await make_staff(sessions, channel_manager, "channel", "activity")
    await make_staff(sessions, user_ops_manager, "user_ops")
    for person in (director, channel_manager, user_ops_manager):
        await ref.send(person, "/start")
    group = sim.group(id=-9301, title="运营部 <b>&")
    await sim.add_bot_to_group(group, by=director)
    await ref.send(director, "/bind", chat=group)
    await tick(app.bot_data, app.bot)
    return Team(director, channel_manager, user_ops_manager, outsider, group)


async def act(ref: Referee, person: Persona, moves) -> None:
    """Play typed answers and taps."""
    for move in moves:
        if isinstance(move, Send):
            await ref.send(person, move.text)
        else:
            await ref.press_nth(person, move.back, move.button)


async def fill(ref: Referee, person: Persona, command: str, moves) -> None:
    """From a clean slate, start a form with `command` and play `moves` on it."""
    await ref.send(person, "/cancel")
    await ref.send(person, command)
    await act(ref, person, moves)


# ---- guided forms, one question at a time ---------------------------------------------------


@fuzz_settings(12)
@given(moves=steps(answers("daily_channel")))
async def test_daily_survives_any_answers_and_taps(team, ref, moves):
    await fill(ref, team.wang, "/daily", moves)


@fuzz_settings(10)
@given(moves=steps(answers("weekly_feedback")))
async def test_weekly_survives_any_answers_and_taps(team, ref, moves):
    await fill(ref, team.lina, "/weekly", moves)


@fuzz_settings(10)
@given(moves=steps(answers("activity_plan"), max_size=18))
async def test_activity_plan_survives_any_answers_and_taps(team, ref, moves):
    await fill(ref, team.wang, "/activity", moves)


@pytest.fixture
async def ended_plans(app, sessions, team, thursday):
    """Three approved plans of Wang's, 1–7 December; the clock then moves to 8 December."""
    async with sessions() as s, s.begin():
        wang = await s.scalar(select(Staff).where(Staff.telegram_id == team.wang.id))
        boss = await s.scalar(select(Staff).where(Staff.telegram_id == team.director.id))
        form = app.bot_data.settings.reports.form("activity_plan")
        for _ in range(3):
            plan = await activities.submit(
                s, wang, form, dict(PLAN_ANSWERS), reports=app.bot_data.settings.reports,
                today=date(2026, 11, 26),
            )  # fmt: skip
            day = date(2026, 11, 26)
            await activities.decide(s, plan.id, plan.version, boss, "approved", today=day)
    await sender.deliver(sessions, TelegramTransport(app.bot))
    with time_machine.travel(local("2026-12-08 10:00"), tick=True):
        await tick(app.bot_data, app.bot)
        yield


@fuzz_settings(10)
@given(moves=steps(answers("activity_results")))
async def test_results_survive_any_answers_and_taps(team, ref, ended_plans, moves):
    await fill(ref, team.wang, "/results", moves)


# ---- whole forms in one message ---------------------------------------------------------------


@fuzz_settings(8)
@given(
    form=st.sampled_from([f.key for f in REPORTS.forms]).flatmap(
        lambda key: st.tuples(st.just(key), one_message(REPORTS.form(key)))
    ),
    moves=st.lists(st.builds(Press, st.just(0), st.integers(0, 3)), max_size=3),
)
async def test_one_message_forms_survive_any_label_value_lines(team, ref, form, moves):
    key, text = form
    person = team.lina if key == "weekly_feedback" else team.wang
    await ref.send(person, "/cancel")
    await ref.send(person, text)
    await act(ref, person, moves)  # Submit is the first button of the summary card


# ---- every command, any arguments -------------------------------------------------------------

ROLES = ["director", "channel", "new_media", "content", "user_ops", "activity"]
HANDLES = ["@zhang", "@wangwei", "@lina", "@nobody", "@", "@<b>", "张总", "王 伟", "Li Na"]
PERIODS = [
    "2026-10", "2026-11", "2026-Q4", "2026-W48", "2026-W53", "2026-13", "9999-Q9", "上月",
    "本月", "本周", "上周", "今年", "0-0", "2026", "-2026-01", "2026-11-26",
]  # fmt: skip
word = st.sampled_from
handle = word(HANDLES)
period = word(PERIODS) | dates
ARGUMENTS: dict[str, st.SearchStrategy[str]] = {
    "start": st.one_of(hostile, st.text("abcdefghijklmnopqrstuvwxyzABC0123456789-_", max_size=64)),
    "leave": st.lists(st.one_of(dates, handle, hostile), max_size=4).map(" ".join),
    "budget": st.one_of(
        numbers, st.tuples(period, numbers).map(" ".join), st.tuples(period).map(" ".join)
    ),
    "channel": st.one_of(
        hostile,
        st.tuples(word(["all", "全部", "help", "帮助", "new", "新建"]), hostile).map(" ".join),
        st.tuples(
            word(["set", "修改"]),
            numbers,
            word(["name", "contact", "phone", "notes", "difficulty", "难度", "电话", "x"]),
            hostile,
        ).map(" ".join),
    ),
    "feedback": st.one_of(
        hostile,
        word(["list", "列表", "help", "?"]),
        numbers.map(lambda n: f"same as #{n}"),
        numbers.map(lambda n: f"同上 ＃{n}"),
    ),
    "invite": st.one_of(word(ROLES), hostile),
    "activity": st.one_of(word(["list", "列表", "LIST"]), hostile),
    "kpi": st.one_of(period, st.tuples(handle, period).map(" ".join), hostile),
    "export": st.one_of(period, hostile),
    "target": st.one_of(
        st.tuples(handle, word(["downloads", "registrations", "x"]), period, numbers).map(" ".join),
        hostile,
    ),
    "assign": st.one_of(
        st.tuples(
            handle, hostile, word(["明天", "周五下午5点", "12/10 17:00", "tomorrow 5pm"])
        ).map(" ".join),
        st.tuples(handle, hostile, hostile).map(" ".join),
    ),
}
COMMANDS = [
    "start", "help", "my", "lang", "leave", "feedback", "channel", "team", "staff", "invite",
    "pending", "budget", "activity", "cancel", "daily", "weekly", "results", "kpi", "target",
    "export", "bind", "remind", "assign", "tasks", "mine",
]  # fmt: skip
unknown_command = st.from_regex(r"[a-zA-Z0-9_]{1,32}", fullmatch=True)


invocation = st.sampled_from(COMMANDS).flatmap(
    lambda command: st.tuples(st.just(command), st.just("") | ARGUMENTS.get(command, hostile))
)


@fuzz_settings(80)
@given(
    who=st.integers(0, 3),
    command=st.one_of(invocation, invocation, st.tuples(unknown_command, hostile)),
)
async def test_every_command_survives_any_arguments(team, ref, who, command):
    # A command not registered (yet) is fuzzed as an unknown one: the fallback must hold too.
    name, args = command
    await ref.send(team.everyone[who], sendable(f"/{name} {args}"))


# Every registered command (so a new one is covered the day it is registered) with each kind of
# argument that once broke something, from every role and from a stranger.
HOSTILE_ARGUMENTS = {
    "empty": "",
    "over-long": "<b>&中" * 1250,  # 5,000 characters: more than a Telegram client lets through
    "html": "<b>&",
    "nul": "2026\x0011 <b>&\x00",
}


@pytest.mark.parametrize("kind", HOSTILE_ARGUMENTS)
async def test_every_registered_command_answers_hostile_arguments_from_anyone(app, team, ref, kind):
    commands = sorted(registered(app))
    assert {"export", "kpi", "leave", "start"} <= set(commands)
    for name in commands:
        for person in team.everyone:
            await ref.send(person, f"/{name} {HOSTILE_ARGUMENTS[kind]}".strip())


async def test_export_of_a_5000_character_period_gets_a_short_answer(team, ref):
    await ref.send(team.director, "/export " + "x" * 5000)
    answer = team.director.inbox[-1].plain
    assert "/export 2026-10" in answer  # examples of what to send instead
    assert "x" * 60 + "…" in answer and "x" * 61 not in answer
    assert len(answer) < 300


@fuzz_settings(15)
@given(
    who=st.integers(0, 1),
    command=st.sampled_from(["kpi", "target", "export"]).flatmap(
        lambda c: st.tuples(st.just(c), ARGUMENTS[c])
    ),
    moves=steps(hostile, max_size=4),
)
async def test_kpi_target_and_export_survive_any_arguments(app, team, ref, who, command, moves):
    name, args = command
    assert name in registered(app)  # a command that went missing fails here, never skips
    person = [team.director, team.wang][who]
    await ref.send(person, sendable(f"/{name} {args}"))
    await act(ref, person, moves)  # its buttons, and typed values for a target's prompt


# ---- forged button presses ----------------------------------------------------------------


@pytest.fixture
async def keyboards(app, team, ref):
    """Real keyboards everywhere: forms, lists, cards, a join card and a plan's approval card."""
    for person, command in [
        (team.director, "/staff"),
        (team.director, "/invite"),
        (team.director, "/lang"),
        (team.wang, "/channel 万科物业"),
        (team.wang, "/feedback 用户说 <b>闪退</b> &"),
        (team.wang, "/daily"),
        (team.lina, "/weekly"),
        (team.outsider, "/start"),
    ]:
        await ref.send(person, command)
    await ref.send(team.director, "/kpi")
    await ref.press_nth(team.outsider, 0, 0)  # asks to join: the director gets a join card
    await ref.send(team.wang, "/cancel")
    await ref.send(team.wang, PLAN)
    await ref.press_nth(team.wang, 0, 0)  # ✅ Submit: the director gets the approval card
    await ref.send(team.director, "/pending")
    # A task sent (王伟 gets ✅ 完成 / 📝 附说明完成 / …) and a recurring one left to confirm.
    await ref.send(team.director, "/assign @wangwei 整理沈阳物业渠道名单 3天后")
    card = team.director.inbox[-1]
    send = [
        b.callback_data
        for row in card.buttons
        for b in row
        if tasks.SEND.pattern.match(b.callback_data)
    ]
    await ref.press(team.director, card, send[0])  # ✅ 发送
    await ref.send(team.director, "/assign @wangwei 周报汇总 每周一 10:00")


def all_button_data(team: Team) -> list[str]:
    chats = [p.inbox for p in team.everyone] + [team.group.messages]
    return sorted(
        {b.callback_data for msgs in chats for m in msgs for r in m.buttons for b in r} - {None}
    )


async def test_every_button_sent_is_taken_by_exactly_one_handler(app, team, keyboards):
    # One CallbackQueryHandler per kind of button (bot/buttons.py): a pattern too strict would
    # send a real press to the stale-button answer, two patterns taking one press would hide one.
    handlers = [
        h for hs in app.handlers.values() for h in hs if isinstance(h, CallbackQueryHandler)
    ]
    patterns = [h.pattern for h in handlers if h.pattern is not None]
    data = all_button_data(team)
    assert len({d.split(":", 1)[0] for d in data}) >= 9  # fb, ch, f, act, staff, kpi, join, …
    for d in data:
        assert sum(1 for p in patterns if p.match(d)) == 1, d
    assert any(tasks.DONE_NOTE.pattern.match(d) for d in data)  # the task card reached 王伟
    assert any(task_series.SEND.pattern.match(d) for d in data)  # the recurring task's confirmation


@fuzz_settings(120)
@given(
    who=st.integers(0, 3),
    back=st.integers(0, 5) | st.integers(0, 10**6),
    forged=callback_data(),
)
async def test_forged_presses_are_answered_and_never_fail(team, ref, keyboards, who, back, forged):
    person = team.everyone[who]
    # Only messages this person can see: their private chat, or the team group. What is there
    # (and which real data can be bent) depends on earlier examples: chosen now, not drawn.
    visible = person.inbox + team.group.messages
    message = visible[-1 - back % len(visible)]
    data = forged.apply(all_button_data(team)) if isinstance(forged, Bend) else forged
    await ref.press(person, message, data)


# ---- forwarded messages and a director's typed reason ---------------------------------------


@fuzz_settings(20)
@given(
    who=st.integers(0, 3),
    text=hostile,
    origin=st.one_of(st.none(), hostile.map(lambda s: s[:64])),
)
async def test_forwarded_messages_with_hostile_text_become_feedback_or_are_refused(
    team, ref, who, text, origin
):
    person = team.everyone[who]
    if origin is None:
        await ref.forward(person, text, from_user=team.outsider)
    else:
        await ref.forward(person, text, sender_name=origin)


@fuzz_settings(10)
@given(decision=st.sampled_from(["rj", "ch"]), reason=hostile)
async def test_a_directors_reason_can_be_anything(team, ref, decision, reason):
    await ref.send(team.wang, "/cancel")
    await ref.send(team.wang, PLAN)
    await ref.press_nth(team.wang, 0, 0)  # ✅ Submit (a plan sent back is resubmitted)
    card = team.director.inbox[-1]
    data = next(
        b.callback_data
        for row in card.buttons
        for b in row
        if b.callback_data and b.callback_data.startswith(f"act:v1:{decision}:")
    )
    await ref.press(team.director, card, data)
    await ref.send(team.director, reason)


@fuzz_settings(25)
@given(
    who=st.integers(0, 3),
    text=st.one_of(
        invocation.map(lambda c: f"/{c[0]} {c[1]}"),
        invocation.map(lambda c: f"/{c[0]}@opsbot_test_bot {c[1]}"),
        hostile.map(lambda s: f"@opsbot_test_bot {s}"),
        hostile,
    ),
)
async def test_anything_said_in_the_team_group_fails_nothing(team, ref, who, text):
    # No answer is owed in the group (most of it the bot does not even see): only no failure.
    await ref.send(team.everyone[who], sendable(text), chat=team.group)


@fuzz_settings(10)
@given(who=st.integers(0, 3), first=hostile, second=hostile)
async def test_an_edited_message_is_answered_and_acts_no_more(team, ref, who, first, second):
    person = team.everyone[who]
    message = await ref.send(person, first)
    await ref.edit(person, message, second)


# ---- regressions: what the fuzzing found --------------------------------------------------------

HUGE = "9" * 20  # beyond BIGINT (and SQLite's INTEGER): the database refuses to even look


FORGED = [
    ("director", f"join:v1:ok:{HUGE}"),
    ("director", f"act:v1:ap:1:{HUGE}"),
    ("director", f"act:v1:cd:{HUGE}"),
    ("wang", f"act:v1:wd:{HUGE}"),
    ("director", f"staff:v1:show:{HUGE}"),
    ("director", "staff:v1:show:²"),
    ("director", "staff:v1:show:x"),
    ("director", "staff:v1:list:x"),
    ("director", "staff:v1:show:1:2"),
    ("director", "staff:v1:role:2"),
    ("director", "staff:v1:nosuch:1"),
    ("director", "inv:v1:role:x"),
    ("wang", f"ch:v1:c:{HUGE}:m0"),
    ("wang", f"ch:v1:nr:{HUGE}:shenyang:0"),
    ("wang", f"fb:v1:1:ch:{HUGE}"),
    ("wang", f"fb:v1:{HUGE}:b:"),
    ("director", f"apr:v1:ok:1:{HUGE}"),
    ("director", f"apr:v1:cd:{HUGE}"),
    ("wang", f"apr:v1:wd:{HUGE}"),
    ("director", "\x00"),  # PostgreSQL refuses U+0000 in text, here in the audit log
]


async def test_forged_ids_and_shapes_get_the_stale_button_alert(team, ref):
    for who, data in FORGED:
        person = getattr(team, who)
        answer = await ref.press(person, person.inbox[-1], data)
        assert answer.show_alert and "失效" in answer.text, data  # "this button no longer works"


@pytest.mark.databases
async def test_kpi_and_target_refuse_huge_ids(team, ref):
    await ref.send(team.director, f"/kpi {HUGE}")  # read as a Telegram id: overflows BIGINT
    for data in [f"tgt:v1:x:{HUGE}", f"tgt:v1:ok:{HUGE}:5"]:
        answer = await ref.press(team.director, team.director.inbox[-1], data)
        assert answer.show_alert


@pytest.mark.databases
async def test_text_with_a_nul_character_is_kept_without_it(sessions, team, ref):
    await ref.send(team.wang, "/feedback 闪退\x00了")
    await ref.forward(team.wang, "卡\x00顿", sender_name="某\x00人")
    async with sessions() as s:
        texts = [(f.text, f.forwarded_from) for f in await s.scalars(select(Feedback))]
    assert texts == [("闪退了", None), ("卡顿", "某人")]


async def test_a_budget_beyond_reason_is_refused(team, ref):
    for amount in ["100000000000000000", "2026-12 99999999999999999999元"]:
        await ref.send(team.director, f"/budget {amount}")
        assert "预算须为" in team.director.inbox[-1].plain


@pytest.mark.databases
async def test_channel_set_with_an_impossible_id_is_answered(team, ref):
    for id_ in [HUGE, "²", "٣٣"]:
        await ref.send(team.wang, f"/channel set {id_} name 新名字")
        assert "/channel" in team.wang.inbox[-1].plain


async def test_results_in_one_message_with_no_ended_activity_says_there_is_none(team, ref):
    await ref.send(team.wang, "/results\n实际花费（元）：100")
    assert "没有等待统计效果的活动" in team.wang.inbox[-1].plain


async def test_a_weekly_with_two_long_answers_is_clipped_onto_one_card(team, ref):
    await ref.send(team.lina, "/weekly")
    for answer in ["1", "2", "3", "4", "5", "long " * 600, "more " * 400]:
        await ref.send(team.lina, answer.strip())
    card = team.lina.inbox[-1]
    assert "Submit" in " ".join(card.labels) and "…" in card.plain
    assert utf16_len(card.plain) <= MAX_MESSAGE
    await ref.press_nth(team.lina, 0, 0)  # ✅ Submit: the filed card is clipped the same way
    assert "long long" in team.lina.inbox[-1].plain


async def test_an_ignored_line_of_a_one_message_report_is_quoted_short(team, ref):
    await ref.send(team.wang, "/daily\n" + "垃圾" * 2000)
    assert "垃圾" in team.wang.inbox[-1].plain
    assert utf16_len(team.wang.inbox[-1].plain) < 1500


async def test_an_approval_card_full_of_emoji_reaches_the_director(app, sessions, team, ref):
    emoji = "👍🏽" * 400  # 800 characters, 1,600 UTF-16 units: Telegram counts the latter
    answers = dict(PLAN_ANSWERS, purpose=emoji, expected_return=emoji, risks=emoji)
    answers["targets"] = [{"indicator": "𠀀" * 30, "target": "1", "unit": "𠀀" * 10}] * 10
    mark = len(ref.sim.calls)
    async with sessions() as s, s.begin():
        wang = await s.scalar(select(Staff).where(Staff.telegram_id == team.wang.id))
        form = app.bot_data.settings.reports.form("activity_plan")
        await activities.submit(
            s, wang, form, answers, reports=app.bot_data.settings.reports, today=date(2026, 11, 26)
        )
    await sender.deliver(sessions, TelegramTransport(app.bot))
    ref.check(mark)
    assert "👍🏽" in team.director.inbox[-1].plain
