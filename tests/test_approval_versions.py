"""What a request's version counts: one set of cards (decision 65). A new step or a new round
sends new cards and a new version; a decision ends its cards by the status alone, so a one-step
form's version is its round, as an activity plan's buttons expect."""

import pytest
from test_approvals import card_of, file_expense, people, settings, the_request, thursday

pytestmark = pytest.mark.databases
__all__ = ["people", "settings", "thursday"]  # the fixtures, shared with test_approvals


def approve_data(card) -> str:
    return next(
        b.callback_data for r in card.buttons for b in r
        if b.callback_data and b.callback_data.startswith("apr:v1:ok:")
    )  # fmt: skip


async def test_a_one_step_requests_version_is_its_round(app, sessions, people):
    await file_expense(people.wang, "物料印刷", "800")
    request = await the_request(sessions)
    assert approve_data(card_of(people.zhao)) == f"apr:v1:ok:{request.id}:1"
    await people.zhao.press(card_of(people.zhao), "✏️ 退回修改")
    await people.zhao.send("请附上报价单")
    sent_back = await the_request(sessions)
    assert (sent_back.status, sent_back.round, sent_back.version) == ("changes_requested", 1, 1)

    await people.wang.send("/cancel")
    await people.wang.send("/expense\n用途：物料印刷（附报价）\n金额（元）：700")
    await people.wang.press(people.wang.inbox[-1], "✅ 提交")
    again = await the_request(sessions)
    assert (again.status, again.round, again.version) == ("pending", 2, 2)
    card = card_of(people.zhao)
    assert approve_data(card) == f"apr:v1:ok:{request.id}:2"

    await people.zhao.press(card, "✅ 批准")
    approved = await the_request(sessions)
    assert (approved.status, approved.round, approved.version) == ("approved", 2, 2)


async def test_a_press_on_a_decided_card_of_the_same_version_changes_nothing(app, sessions, people):
    await file_expense(people.wang, "场地", "800")
    card = card_of(people.zhao)
    data = approve_data(card)  # the card loses its buttons once decided
    await people.zhao.press(card, "✖ 驳回")
    await people.zhao.send("不在预算内")
    request = await the_request(sessions)
    assert (request.status, request.version) == ("rejected", 1)
    answer = await people.zhao.press_data(card.message_id, card.chat_id, data)
    assert answer.show_alert and "过期" in answer.text
    assert (await the_request(sessions)).status == "rejected"


async def test_each_step_of_a_round_is_a_version_of_its_own(app, sessions, people):
    await file_expense(people.wang, "年会场地", "8000")
    first = card_of(people.zhao)
    await people.zhao.press(first, "✅ 批准")
    request = await the_request(sessions)
    assert (request.step, request.version) == (1, 2)
    second = card_of(people.zhang)
    assert approve_data(second) == f"apr:v1:ok:{request.id}:2"
    await people.zhang.press(second, "✅ 批准")
    approved = await the_request(sessions)
    assert (approved.status, approved.version) == ("approved", 2)
