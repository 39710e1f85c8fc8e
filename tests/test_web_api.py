"""The dashboard's API (issue 19): Telegram-signed init data, every endpoint for a director and
for a staff member, an approval made on the page as the one decision, the chat cards edited."""

import json

import pytest
import time_machine
from sqlalchemy import select
from support import local
from web_support import auth, client, seed, signed, the_plan

from bot.models import AuditLog
from bot.web import initdata

pytestmark = pytest.mark.databases


@pytest.fixture
async def web(app, sim, sessions, settings, director, channel_manager, user_ops_manager):
    """The team seeded on a Thursday morning, and an HTTP client of the ASGI app."""
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await seed(app, sessions, director, channel_manager, user_ops_manager)
        async with client(app, settings) as http:
            yield http


def as_(persona, settings, **kw) -> dict:
    return auth(signed(persona, settings.require_token(), **kw))


# ---- authentication ---------------------------------------------------------------------------


async def test_it_refuses_tampered_expired_foreign_and_missing_init_data(web, settings, director):
    token = settings.require_token()
    good = signed(director, token)
    tampered = good.replace("%E5%BC%A0", "%E6%9D%8E")  # the first name 张 → 李
    assert tampered != good
    other_user = good.replace(str(director.id), "2002")
    expired = signed(director, token, age=settings.web.init_data_max_age_seconds + 5)
    foreign = signed(director, "999999:ANOTHER-BOT")
    for data in (tampered, other_user, expired, foreign, "", "hash=00", good + "&hash=00"):
        response = await web.get("/app/api/me", headers=auth(data))
        assert response.status_code == 401, data
        assert response.json() == {"error": "unauthorised"}
    assert (await web.get("/app/api/today")).status_code == 401  # no header at all
    assert (await web.get("/app/api/me", headers=auth(good))).status_code == 200


def test_the_signature_is_telegrams():
    """The example of Telegram's algorithm, computed independently of initdata.sign."""
    import hashlib
    import hmac
    from datetime import UTC, datetime

    token = "123456:ABC"
    check = 'auth_date=1700000000\nquery_id=Q\nuser={"id":7}'
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    data = f"query_id=Q&user=%7B%22id%22%3A7%7D&auth_date=1700000000&hash={digest}"
    user = initdata.verify(data, token, 3600, datetime.fromtimestamp(1700000100, UTC))
    assert user.id == 7
    with pytest.raises(initdata.InitDataError, match="expired"):
        initdata.verify(data, token, 60, datetime.fromtimestamp(1700000100, UTC))


async def test_someone_not_on_the_team_sees_nothing(web, settings, outsider, caplog):
    caplog.set_level("INFO")
    data = signed(outsider, settings.require_token())
    for path in ("me", "today", "kpi", "channels", "approvals", "feedback"):
        response = await web.get(f"/app/api/{path}", headers=auth(data))
        assert response.status_code == 403
        assert response.json() == {"error": "not_staff"}
    await web.get("/app/api/me", headers=auth(data + "x"))
    assert "bad_signature" in caplog.text
    assert data not in caplog.text and settings.require_token() not in caplog.text


# ---- the page ---------------------------------------------------------------------------------


async def test_the_page_loads_only_its_own_files(web):
    page = await web.get("/app")
    assert page.status_code == 200
    assert "telegram.org" not in page.text and "https://" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert '<html lang="zh">' in page.text
    for name in ("app.js", "app.css"):
        asset = await web.get(f"/app/static/{name}")
        assert asset.status_code == 200
        assert "https://" not in asset.text
    assert (await web.get("/app/static/../config.py")).status_code == 404


# ---- each page's data -------------------------------------------------------------------------


async def test_me_gives_the_tabs_and_words_in_the_viewers_language(
    web, settings, director, user_ops_manager
):
    zhang = (await web.get("/app/api/me", headers=as_(director, settings))).json()
    assert zhang["director"] is True
    assert zhang["tabs"] == ["today", "kpi", "channels", "approvals", "feedback"]
    assert zhang["strings"]["tab_today"] == "今天"
    lina = (await web.get("/app/api/me", headers=as_(user_ops_manager, settings))).json()
    assert lina["director"] is False and "feedback" not in lina["tabs"]
    assert lina["strings"]["tab_today"] == "Today"


async def test_today_shows_the_director_everyone_and_staff_themselves(
    web, settings, director, channel_manager
):
    team = (await web.get("/app/api/today", headers=as_(director, settings))).json()
    daily = next(s for s in team["sections"] if s["form"] == "渠道拓展日报")
    states = {line["name"]: line["state"] for line in daily["lines"]}
    assert states["王 伟"] == "filed"
    own = (await web.get("/app/api/today", headers=as_(channel_manager, settings))).json()
    names = {line["name"] for s in own["sections"] for line in s["lines"]}
    assert names == {"王 伟"}


async def test_kpi_switches_period_and_a_director_sees_a_person(
    web, settings, director, channel_manager
):
    headers = as_(director, settings)
    month = (await web.get("/app/api/kpi?period=month", headers=headers)).json()
    assert month["period"] == "2026年11月"
    assert month["lines"]
    trend = (await web.get("/app/api/kpi/trend?period=month", headers=headers)).json()
    assert len(trend["labels"]) == 6 and trend["labels"][-1] == "2026年11月"
    assert {s["name"] for s in trend["series"]} == {line["name"] for line in month["lines"]}
    assert all(len(s["values"]) == 6 for s in trend["series"])
    week = (await web.get("/app/api/kpi?period=week", headers=headers)).json()
    assert week["period"] != month["period"]
    quarter = (await web.get("/app/api/kpi?period=quarter&offset=-1", headers=headers)).json()
    assert quarter["period"] == "2026年第三季度"
    wang = next(p for p in month["people"] if p["name"] == "王 伟")
    card = await web.get(f"/app/api/kpi?period=month&person={wang['id']}", headers=headers)
    assert card.json()["person"] == "王 伟"
    assert card.json()["score"] is not None
    bad = await web.get("/app/api/kpi?period=decade", headers=headers)
    assert bad.status_code == 404


async def test_staff_cannot_reach_another_persons_numbers(
    web, settings, director, channel_manager, user_ops_manager
):
    director_view = (await web.get("/app/api/kpi", headers=as_(director, settings))).json()
    lina_id = next(p["id"] for p in director_view["people"] if p["name"] == "Li Na")
    wang = as_(channel_manager, settings)
    mine = (await web.get("/app/api/kpi", headers=wang)).json()
    assert mine["person"] == "王 伟" and mine["people"] == [] and mine["scores"] == []
    for path in ("kpi", "kpi/trend"):
        refused = await web.get(f"/app/api/{path}?person={lina_id}", headers=wang)
        assert refused.status_code == 403
    assert (await web.get("/app/api/feedback", headers=wang)).status_code == 403
    # The channel list is his own; another's channel's history is refused.
    pipeline = (await web.get("/app/api/channels", headers=wang)).json()
    assert {c["name"] for c in pipeline["channels"]} == {"华润物业", "万科物业", "大连电力"}
    team = (await web.get("/app/api/channels", headers=as_(director, settings))).json()
    gas = next(c for c in team["channels"] if c["name"] == "沈阳燃气")
    assert (await web.get(f"/app/api/channels/{gas['id']}", headers=wang)).status_code == 403


async def test_channels_funnel_filters_by_region_and_industry_with_history(web, settings, director):
    headers = as_(director, settings)
    everyone = (await web.get("/app/api/channels", headers=headers)).json()
    counts = {s["stage"]: s["count"] for s in everyone["funnel"]}
    assert counts == {"lead": 3, "contacted": 0, "negotiating": 0, "signed": 1, "live": 0,
                      "lost": 0}  # fmt: skip
    dalian = (await web.get("/app/api/channels?region=dalian", headers=headers)).json()
    assert [c["name"] for c in dalian["channels"]] == ["大连电力"]
    power = await web.get("/app/api/channels?region=shenyang&industry=power", headers=headers)
    assert [c["name"] for c in power.json()["channels"]] == ["沈阳燃气"]
    signed_one = next(c for c in everyone["channels"] if c["name"] == "华润物业")
    history = (await web.get(f"/app/api/channels/{signed_one['id']}", headers=headers)).json()
    assert [h["to"] for h in history["history"]] == ["线索", "已接触", "已签约"]
    assert (await web.get("/app/api/channels/99999", headers=headers)).status_code == 404


async def test_feedback_by_category_and_theme(web, settings, director):
    week = (await web.get("/app/api/feedback", headers=as_(director, settings))).json()
    assert week["items"] == 2 and week["mentions"] == 3
    by = {c["label"]: c["count"] for c in week["categories"]}
    assert by["使用体验"] == 2 and by["功能需求"] == 1
    assert week["themes"][0]["count"] == 2
    before = await web.get("/app/api/feedback?offset=-1", headers=as_(director, settings))
    assert before.json()["items"] == 0


# ---- approvals --------------------------------------------------------------------------------


async def test_an_approval_on_the_page_is_the_one_decision_and_edits_the_card(
    web, app, sim, sessions, settings, director
):
    headers = as_(director, settings)
    waiting = (await web.get("/app/api/approvals", headers=headers)).json()["items"]
    plan = next(i for i in waiting if i["kind"] == "plan")
    assert "周末缴费送积分" in plan["text"]
    card = next(m for m in reversed(director.inbox) if m.buttons)
    body = {"kind": "plan", "id": plan["id"], "version": plan["version"], "decision": "approve"}
    decided = await web.post("/app/api/approvals/decide", headers=headers, json=body)
    assert decided.json() == {"decided": True}
    assert (await the_plan(sessions)).status == "approved"
    edited = sim.message(director.id, card.message_id)
    assert "张 总" in edited.plain and edited.buttons == []
    again = await web.post("/app/api/approvals/decide", headers=headers, json=body)
    assert again.status_code == 409
    assert "已" in again.json()["message"]
    assert (await web.get("/app/api/approvals", headers=headers)).json()["items"] == []


async def test_reject_on_the_page_needs_the_reason(web, sessions, settings, director):
    headers = as_(director, settings)
    plan = (await web.get("/app/api/approvals", headers=headers)).json()["items"][0]
    body = {"kind": "plan", "id": plan["id"], "version": plan["version"], "decision": "reject"}
    empty = await web.post("/app/api/approvals/decide", headers=headers, json=body)
    assert empty.status_code == 409 and empty.json()["error"] == "empty_reason"
    body["reason"] = "预算太高"
    assert (await web.post("/app/api/approvals/decide", headers=headers, json=body)).json() == {
        "decided": True
    }
    plan_row = await the_plan(sessions)
    assert plan_row.status == "rejected" and plan_row.decision_reason == "预算太高"


async def test_staff_cannot_decide_and_the_attempt_is_audited(
    web, sessions, settings, director, user_ops_manager
):
    plan = (await web.get("/app/api/approvals", headers=as_(director, settings))).json()["items"]
    lina = as_(user_ops_manager, settings)
    assert (await web.get("/app/api/approvals", headers=lina)).json()["items"] == []
    body = {"kind": "plan", "id": plan[0]["id"], "version": plan[0]["version"],
            "decision": "approve"}  # fmt: skip
    refused = await web.post("/app/api/approvals/decide", headers=lina, json=body)
    assert refused.status_code == 409
    assert (await the_plan(sessions)).status == "pending"
    async with sessions() as s:
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "access.refused"))
    assert audit is not None and audit.actor_telegram_id == user_ops_manager.id
    bad = await web.post("/app/api/approvals/decide", headers=lina, content=json.dumps([1]))
    assert bad.status_code == 400


def test_the_demo_url_carries_init_data_signed_now_and_the_theme():
    from urllib.parse import parse_qs, urlsplit

    from bot import clock
    from bot.web import demo

    url = demo.open_url("http://127.0.0.1:1", {"id": 1001, "first_name": "张总"}, "1:TOKEN")
    fragment = parse_qs(urlsplit(url).fragment)
    user = initdata.verify(fragment["tgWebAppData"][0], "1:TOKEN", 60, clock.now())
    assert user.id == 1001
    assert json.loads(fragment["tgWebAppThemeParams"][0])["bg_color"] == "#ffffff"
    with pytest.raises(initdata.InitDataError, match="bad_signature"):
        initdata.verify(fragment["tgWebAppData"][0], "2:OTHER", 60, clock.now())


SUGGESTION = """/suggest
建议标题：缴费页加电子发票入口
方面：产品体验
现状与问题：用户找不到发票
建议内容：在缴费成功页加“开电子发票”按钮"""


async def test_a_request_of_the_engine_decided_on_the_page_as_in_chat(
    web, sim, sessions, settings, director, channel_manager
):
    await channel_manager.send(SUGGESTION)
    await channel_manager.press(channel_manager.inbox[-1], "✅ 提交")
    card = director.inbox[-1]
    pressed = next(b.callback_data for row in card.buttons for b in row if b.text == "✖ 不采纳")
    headers = as_(director, settings)
    items = (await web.get("/app/api/approvals", headers=headers)).json()["items"]
    item = next(i for i in items if i["kind"] == "request")
    assert item["title"] == "缴费页加电子发票入口"
    # The card's own answers, each with a reply to the proposer, as the chat asks for one.
    assert item["decisions"] == ["approve", "note", "reject"]
    assert item["reasons"] == {"approve": True, "note": True, "reject": True}
    body = {"kind": "request", "id": item["id"], "version": item["version"],
            "decision": "approve"}  # fmt: skip
    empty = await web.post("/app/api/approvals/decide", headers=headers, json=body)
    assert empty.status_code == 409 and empty.json()["error"] == "empty_reason"
    body["reason"] = "采纳，下个版本上线"
    decided = await web.post("/app/api/approvals/decide", headers=headers, json=body)
    assert decided.json() == {"decided": True}
    edited = sim.message(director.id, card.message_id)
    assert edited.buttons == [] and "张 总" in edited.plain
    assert "采纳，下个版本上线" in channel_manager.inbox[-1].plain
    answer = await sim.callback_query(director, edited, pressed)
    assert answer.show_alert and "张 总" in answer.text and "过期" in answer.text
