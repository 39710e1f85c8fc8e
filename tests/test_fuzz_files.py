"""Hostile files, by property: whatever photo, document, album or caption anyone sends, in a
private chat or the team group, at idle, while filling a form or in a guided /assign, no handler
raises, Telegram refuses nothing the bot sends, and a private chat gets an answer.

The referee and the strategies are tests/fuzz_support.py's; the team is test_fuzz.py's.
"""

import pytest
import test_fuzz
from fuzz_support import (
    Album,
    Declared,
    Document,
    Forwarded,
    Photo,
    Referee,
    captions,
    file_moves,
    fuzz_settings,
    send_file,
)
from hypothesis import given
from hypothesis import strategies as st
from test_form_files import CLAIM
from test_fuzz import Team

from bot.forms.spec import FormSpec
from bot.simulator import Persona
from bot.simulator.samples import png

# test_fuzz.py's fixtures: its team (director, Wang, Li Na, a stranger, the bound group).
team, ref, thursday = test_fuzz.team, test_fuzz.ref, test_fuzz.thursday


@pytest.fixture
def settings(settings):
    """The tests' settings plus test_form_files.py's claim form (photos and documents), which
    Wang (channel) files."""
    forms = (*settings.reports.forms, FormSpec.model_validate(CLAIM))
    reports = settings.files.applied(settings.reports.model_copy(update={"forms": forms}))
    return settings.model_copy(update={"reports": reports})


STATES = ["idle", "form", "file question", "assign", "task note"]
PLACES = ["private", "group", "group as admin"]


async def enter(ref: Referee, team: Team, person: Persona, state: str) -> None:
    """Put `person` at idle, on the first question of a form, at a question that takes files,
    in a guided /assign, or (Wang) finishing a task with a note or a file."""
    await ref.send(person, "/cancel")
    if state == "form" and person in (team.wang, team.lina):
        await ref.send(person, "/daily" if person is team.wang else "/weekly")
    elif state == "file question" and person is team.wang:
        await ref.send(person, "/claim")
        await ref.send(person, "差旅报销")  # the purpose; the receipts (photos) are asked next
    elif state == "task note" and person is team.wang:
        # The director's task reaches Wang, who taps 📝 附说明完成: a note, link or file is asked.
        await ref.send(team.director, "/assign @wangwei 整理渠道名单 明天")
        await ref.press(team.director, team.director.inbox[-1], _data(team.director, "✅ 发送"))
        await ref.press(team.wang, team.wang.inbox[-1], _data(team.wang, "📝 附说明完成"))
        assert "完成说明" in team.wang.inbox[-1].plain  # the note (or file) is what is asked
    elif state == "assign" and person is not team.outsider:
        await ref.send(person, "/assign")
        await ref.press_nth(person, 0, 0)  # the director picks someone; others get the title


def _data(person: Persona, label: str) -> str:
    button = person.inbox[-1].button(label)
    assert button is not None, f"no {label} under {person.inbox[-1].plain[:80]!r}"
    return button.callback_data


@fuzz_settings(30)
@given(
    who=st.integers(0, 3),
    state=st.sampled_from(STATES),
    place=st.sampled_from(PLACES),
    moves=st.lists(file_moves, min_size=1, max_size=3),
)
async def test_any_file_anywhere_fails_nothing(team, ref, who, state, place, moves):
    person = team.everyone[who]
    await enter(ref, team, person, state)
    chat = None if place == "private" else team.group
    team.group.bot_status = "administrator" if place == "group as admin" else "member"
    try:
        for move in moves:
            await send_file(ref, person, move, chat)
    finally:
        team.group.bot_status = "member"
    # Whatever the files did, the person can still go on typing.
    await ref.send(person, "1")


@fuzz_settings(12)
@given(who=st.integers(0, 3), caption=captions, state=st.sampled_from(STATES))
async def test_a_caption_is_never_taken_for_a_command_or_an_answer_that_fails(
    team, ref, who, caption, state
):
    person = team.everyone[who]
    await enter(ref, team, person, state)
    await send_file(ref, person, Photo(640, 480, caption))
    await send_file(ref, person, Document(b"%PDF-1.4", "a.pdf", "application/pdf", caption))
    mark = len(ref.sim.calls)
    photo = await person.send_photo(png(64, 48), caption="发票")
    ref.check(mark)
    await ref.edit(person, photo, caption)  # a caption edited afterwards


# ---- what a file gets, case by case ----------------------------------------------------------

HOSTILE_FILES = {
    "photo": Photo(640, 480, ""),
    "photo with html": Photo(640, 480, "<b>&</b><script>"),
    "photo with a command": Photo(640, 480, "/cancel"),
    "nameless document": Document(b"x", "", "", ""),
    "odd document": Document(b"\x00" * 8, "../../etc/passwd", "text/html; charset=<b>", "/start"),
    "photo album": Album(10, False, "十张"),
    "document album": Album(3, True, ""),
    "huge document": Declared("document", 2**53, ""),
    "huge photo, 5,000-character caption": Declared("photo", 4 * 1024**3, "<b>&中" * 1250),
    "forwarded photo": Forwarded("photo", "用户截图 <b>&", False),
    "forwarded nameless document": Forwarded("document", "", True),
}


@pytest.mark.parametrize("state", STATES)
async def test_every_hostile_file_is_answered_from_anyone(team, ref, state):
    for kind, move in HOSTILE_FILES.items():
        for person in team.everyone:
            await enter(ref, team, person, state)
            try:
                await send_file(ref, person, move)
            except AssertionError as exc:
                raise AssertionError(f"{kind} from {person}: {exc}") from exc


async def test_every_hostile_file_in_the_group_fails_nothing(team, ref):
    team.group.bot_status = "administrator"  # sees everything, not only commands
    for kind, move in HOSTILE_FILES.items():
        for person in team.everyone:
            try:
                await send_file(ref, person, move, team.group)
            except AssertionError as exc:
                raise AssertionError(f"{kind} from {person}: {exc}") from exc
