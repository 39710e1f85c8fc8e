"""The sender's prompt and draft, read with the sender and held for the transaction
(services/held.py), are never older than the transaction's own writes."""

import pytest
from sqlalchemy import delete, event
from support import make_staff

from bot import clock
from bot.forms.flow import draft_of
from bot.models import Draft
from bot.services import prompts
from bot.services import staff as staff_service
from bot.services.prompts import Kind

pytestmark = pytest.mark.databases


@pytest.fixture
def lina(user_ops_manager):
    return user_ops_manager


@pytest.fixture
async def lina_id(sessions, lina) -> int:
    await make_staff(sessions, lina, "user_ops")
    async with sessions() as s:
        return (await staff_service.by_telegram_id(s, lina.id)).id


def counting(engine) -> list[str]:
    seen: list[str] = []
    event.listen(
        engine.sync_engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0])
    )
    return seen


async def test_what_was_read_with_the_sender_is_not_read_again(sessions, engine, lina, lina_id):
    async with sessions() as s, s.begin():
        await prompts.ask(s, lina_id, Kind.TARGET_VALUE)
    seen = counting(engine)
    async with sessions() as s, s.begin():
        me = await staff_service.sender(s, lina.id)
        assert me.id == lina_id
        assert (await prompts.current(s, lina_id)).kind == Kind.TARGET_VALUE
        assert await draft_of(s, lina_id) is None
    assert seen == ["SELECT"], "one statement found the sender, their prompt and their draft"


async def test_a_prompt_asked_after_the_sender_was_read_is_seen(sessions, lina, lina_id):
    async with sessions() as s, s.begin():
        await staff_service.sender(s, lina.id)
        assert await prompts.current(s, lina_id) is None
        await prompts.ask(s, lina_id, Kind.TARGET_VALUE)
        assert (await prompts.current(s, lina_id)).kind == Kind.TARGET_VALUE
        await prompts.cancel(s, lina_id)
        assert await prompts.current(s, lina_id) is None


async def test_a_draft_added_or_deleted_after_the_sender_was_read_is_seen(sessions, lina, lina_id):
    now = clock.now()
    async with sessions() as s, s.begin():
        await staff_service.sender(s, lina.id)
        assert await draft_of(s, lina_id) is None
        s.add(
            Draft(
                staff_id=lina_id,
                form_key="daily",
                period_key="2026-11-26",
                answers={},
                created_at=now,
                updated_at=now,
            )
        )
        assert (await draft_of(s, lina_id)).form_key == "daily", "pending, not yet flushed"
    async with sessions() as s, s.begin():
        await staff_service.sender(s, lina.id)
        assert (await draft_of(s, lina_id)).form_key == "daily"
        await s.execute(delete(Draft).where(Draft.staff_id == lina_id))
        assert await draft_of(s, lina_id) is None


async def test_an_expired_prompt_read_with_the_sender_is_not_open(sessions, lina, lina_id):
    async with sessions() as s, s.begin():
        asked = await prompts.ask(s, lina_id, Kind.CHANNEL_ADD)
        asked.expires_at = clock.now()
    async with sessions() as s, s.begin():
        await staff_service.sender(s, lina.id)
        assert await prompts.current(s, lina_id) is None


async def test_the_sender_read_as_rows_is_an_object_of_the_session(sessions, lina, lina_id):
    """The sender is made from plain rows (staff.sender): their roles are there without a
    read, a change to them is saved at the commit, and a second read in the same session
    (the ORM's, since the session holds them) gives the same object."""
    async with sessions() as s, s.begin():
        me = await staff_service.sender(s, lina.id)
        assert me.role_names == {"user_ops"}
        assert [role.staff for role in me.roles] == [me]
        assert await staff_service.sender(s, lina.id) is me
        me.locale = "en"
    async with sessions() as s:
        assert (await staff_service.by_telegram_id(s, lina.id)).locale == "en"
