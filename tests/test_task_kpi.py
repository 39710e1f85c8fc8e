"""The tasks KPI from a known set of tasks: on time, late, postponed in time, open past due."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from kpi_data import person
from support import TZ, local

from bot.calendar import Period, WorkCalendar
from bot.forms.spec import default_reports
from bot.kpis.spec import default_kpi
from bot.models import Task, TaskEvent
from bot.services import kpi

pytestmark = pytest.mark.databases

CAL = WorkCalendar()
NOV = Period.parse("2026-11")
NOW = local("2026-11-26T12:00")


async def task(s, boss, who, deadline, status, *, done=None, approvals=(), asked=None):
    """A sent task as the task service leaves it: the row and its deadline-setting events."""
    at = local(deadline)
    created = at - timedelta(days=5)
    row = Task(assigner_id=boss.id, assignee_id=who.id, title="整理名单", deadline=at,
               status=status, version=2, created_at=created, updated_at=created,
               done_at=local(done) if done else None)  # fmt: skip
    s.add(row)
    await s.flush()
    s.add(TaskEvent(task_id=row.id, at=created, actor_id=boss.id, kind="drafted", version=1,
                    details={"deadline": at.isoformat()}))  # fmt: skip
    for when, new in approvals:  # (approved at, new deadline)
        moved = local(new)
        s.add(TaskEvent(task_id=row.id, at=local(when), actor_id=boss.id,
                        kind="postpone_approved", version=3,
                        details={"deadline": moved.isoformat()}))  # fmt: skip
        row.deadline = moved
    await s.flush()
    return row


async def tasks_result(s, who, period=NOV, now=NOW):
    got = await kpi.assess(s, default_kpi(), default_reports(), CAL, TZ, period, now)
    card = got.card(who.id)
    return next(r for r in card.results if r.kpi.key == "tasks"), got


async def test_share_of_tasks_done_on_time(sessions):
    async with sessions() as s, s.begin():
        boss = await person(s, "张总", "director")
        wang = await person(s, "王伟", "channel")
        # on time: done before the deadline, accepted
        await task(s, boss, wang, "2026-11-10T17:00", "accepted", done="2026-11-10T16:00")
        # late: done after the deadline, accepted anyway
        await task(s, boss, wang, "2026-11-11T17:00", "accepted", done="2026-11-12T10:00")
        # postponed before the deadline, done by the new one: on time
        await task(s, boss, wang, "2026-11-12T17:00", "accepted", done="2026-11-16T11:00",
                   approvals=[("2026-11-12T09:00", "2026-11-16T17:00")])  # fmt: skip
        # postponement approved after the deadline had passed: judged by the old one, late
        await task(s, boss, wang, "2026-11-13T17:00", "accepted", done="2026-11-17T11:00",
                   approvals=[("2026-11-14T09:00", "2026-11-18T17:00")])  # fmt: skip
        # still open past the deadline: late
        await task(s, boss, wang, "2026-11-20T17:00", "open")
        # not counted: not due yet, done but not yet accepted, handed back, October, own task
        await task(s, boss, wang, "2026-11-30T17:00", "open")
        await task(s, boss, wang, "2026-11-24T17:00", "done", done="2026-11-24T15:00")
        await task(s, boss, wang, "2026-11-19T17:00", "returned")
        await task(s, boss, wang, "2026-10-30T17:00", "open")
        await task(s, wang, wang, "2026-11-18T17:00", "open")
        got, _ = await tasks_result(s, wang)
    assert got.actual == D(2) / 5 and got.target == D(1) and got.scored


async def test_accepted_on_time_counts_before_its_deadline(sessions):
    async with sessions() as s, s.begin():
        boss = await person(s, "张总", "director")
        li = await person(s, "李娜", "content")
        await task(s, boss, li, "2026-11-30T17:00", "accepted", done="2026-11-25T10:00")
        got, _ = await tasks_result(s, li)
    assert got.actual == D(1)


async def test_nothing_due_is_no_score_not_zero(sessions):
    async with sessions() as s, s.begin():
        boss = await person(s, "张总", "director")
        wang = await person(s, "王伟", "channel")
        zhao = await person(s, "赵磊", "user_ops")  # the rules do not name it for user ops
        await task(s, boss, wang, "2026-11-30T17:00", "open")  # due after now
        await task(s, boss, zhao, "2026-11-10T17:00", "open")
        got, result = await tasks_result(s, wang)
        team = next(r for r in result.team if r.kpi.key == "tasks")
    assert got.problem == "no_data" and got.actual is None
    assert team.problem == "no_data"
    assert all(r.kpi.key != "tasks" for r in result.card(zhao.id).results)


async def test_team_share_over_everyone(sessions):
    async with sessions() as s, s.begin():
        boss = await person(s, "张总", "director")
        wang = await person(s, "王伟", "channel")
        chen = await person(s, "陈静", "new_media")
        await task(s, boss, wang, "2026-11-10T17:00", "accepted", done="2026-11-09T10:00")
        await task(s, boss, chen, "2026-11-10T17:00", "open")
        await task(s, boss, chen, "2026-11-11T17:00", "accepted", done="2026-11-11T17:00")
        got, result = await tasks_result(s, chen)
        team = next(r for r in result.team if r.kpi.key == "tasks")
    assert got.actual == D(1) / 2
    assert team.actual == D(2) / 3
