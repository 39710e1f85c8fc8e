"""Groups: only a director may add the bot; /bind makes the team group; others get nothing."""

import pytest
from sqlalchemy import select

from bot.models import AuditLog, Team


async def test_added_by_a_non_director_the_bot_leaves(app, sim, outsider):
    group = sim.group(id=-5001, title="闲聊群")
    await sim.add_bot_to_group(group, by=outsider)
    assert group.id in sim.left_chats
    assert group.messages == []


async def test_added_by_a_director_the_bot_stays_and_explains_bind(app, sim, director):
    await director.send("/start")
    group = sim.group(id=-5002, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    assert group.id not in sim.left_chats
    assert "/bind" in group.messages[-1].plain


async def test_a_director_binds_the_team_group(app, sim, sessions, director):
    await director.send("/start")
    group = sim.group(id=-5003, title="运营部")
    await sim.add_bot_to_group(group, by=director)

    await director.send("/bind", chat=group)

    assert "已设为团队群" in group.messages[-1].plain
    async with sessions() as s:
        team = await s.get(Team, 1)
    assert team.group_chat_id == group.id and team.group_title == "运营部"


async def test_bind_by_anyone_else_gets_nothing(app, sim, sessions, director, channel_manager):
    await director.send("/start")
    group = sim.group(id=-5004, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    group.add_member(channel_manager) if hasattr(group, "add_member") else None
    before = len(group.messages)

    await channel_manager.send("/bind", chat=group)

    assert len(group.messages) == before
    async with sessions() as s:
        assert (await s.get(Team, 1)).group_chat_id is None
        refused = await s.scalar(select(AuditLog).where(AuditLog.action == "group.bind_refused"))
    assert refused.actor_telegram_id == channel_manager.id


async def test_other_commands_in_groups_get_nothing(app, sim, director):
    await director.send("/start")
    group = sim.group(id=-5005, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    before = len(group.messages)

    await director.send("/staff", chat=group)
    await director.send("hello", chat=group)

    assert len(group.messages) == before


@pytest.mark.databases
async def test_the_team_group_is_followed_when_it_becomes_a_supergroup(
    app, sim, sessions, director
):
    await director.send("/start")
    group = sim.group(id=-5006, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    await director.send("/bind", chat=group)

    supergroup = await sim.migrate_group(group)

    async with sessions() as s:
        assert (await s.get(Team, 1)).group_chat_id == supergroup.id


async def test_removed_from_the_team_group_the_directors_are_told_what_to_do(
    app, sim, director, channel_manager
):
    await director.send("/start")
    group = sim.group(id=-5010, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    await director.send("/bind", chat=group)
    before = len(director.inbox)

    await sim.remove_bot_from_group(group, by=channel_manager)

    (notice,) = director.inbox[before:]
    assert notice.plain.startswith("⚠️ 我已不在团队群「运营部」中。")  # not staff: no name
    assert "重新加入该群" in notice.plain and "/bind" in notice.plain


async def test_removed_from_another_group_nobody_is_told(app, sim, director):
    await director.send("/start")
    bound, other = sim.group(id=-5011, title="运营部"), sim.group(id=-5012, title="项目群")
    for group in (bound, other):
        await sim.add_bot_to_group(group, by=director)
    await director.send("/bind", chat=bound)
    before = len(director.inbox)

    await sim.remove_bot_from_group(other, by=director)

    assert director.inbox[before:] == []


async def test_a_director_who_removes_the_bot_is_named(app, sim, director):
    await director.send("/start")
    group = sim.group(id=-5013, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    await director.send("/bind", chat=group)

    await sim.remove_bot_from_group(group, by=director)

    assert "把我移出了团队群「运营部」。" in director.inbox[-1].plain
