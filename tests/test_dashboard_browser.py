"""The dashboard in a real headless browser (the OS's Chromium, driven by Playwright): each page
for a director and a staff member, the period switch, an approval made on the page as the one
decision, and init data that is tampered, expired or another bot's showing nothing."""

import asyncio
import json
import shutil
from urllib.parse import quote

import pytest
import time_machine
import uvicorn
from support import local
from web_support import seed, signed, the_plan

from bot.services import staff as staff_service
from bot.web.serve import _Beside
from bot.webhook import _listen, create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (./test.sh installs it)"
)
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium on this machine: apt-get install -y chromium (the CI script does)",
    ),
    pytest.mark.slow,
]
PHONE = {"width": 360, "height": 740}
THEME = {"bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#999999",
         "link_color": "#2481cc", "button_color": "#2481cc", "button_text_color": "#ffffff",
         "secondary_bg_color": "#efeff3"}  # fmt: skip


@pytest.fixture
async def served(app, sim, sessions, settings, director, channel_manager, user_ops_manager):
    """The seeded team's opsbot serving its web pages on a free local port (its base URL)."""
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await seed(app, sessions, director, channel_manager, user_ops_manager)
        sock = _listen("127.0.0.1", 0)
        config = uvicorn.Config(create_app(app, settings), lifespan="off", access_log=False,
                                log_config=None, log_level="warning")  # fmt: skip
        server = _Beside(config)
        # Listening already: the browser's first request waits in the backlog until it serves.
        task = asyncio.create_task(server.serve(sockets=[sock]))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        server.should_exit = True
        await task


@pytest.fixture
async def browser():
    async with playwright_api.async_playwright() as p:
        # --no-sandbox: tests run as root in CI, where Chromium's sandbox refuses to start.
        found = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield found
        await found.close()


async def open_as(browser, base: str, data: str, tab: str | None = None):
    """The dashboard as Telegram opens it: the init data and theme in the URL fragment."""
    page = await browser.new_page(viewport=PHONE)
    page.set_default_timeout(10_000)
    outside: list[str] = []
    page.on("request", lambda r: r.url.startswith(base) or outside.append(r.url))
    statuses: list[int] = []
    page.on("response", lambda r: "/api/" in r.url and statuses.append(r.status))

    fragment = f"tgWebAppData={quote(data)}&tgWebAppVersion=8.0&tgWebAppPlatform=android"
    fragment += f"&tgWebAppThemeParams={quote(json.dumps(THEME))}"
    if tab:
        fragment += f"&tab={tab}"
    # Until the network is quiet: the page's first requests have all been answered.
    await page.goto(f"{base}/app#{fragment}", wait_until="networkidle")
    page.outside, page.api_statuses = outside, statuses
    return page


async def test_a_director_sees_every_page_and_switches_period(served, browser, settings, director):
    page = await open_as(browser, served, signed(director, settings.require_token()))
    view = page.locator("#view")
    await view.get_by_text("王 伟").first.wait_for()
    assert "已提交" in await view.inner_text()
    assert await page.locator("#tabs button").all_inner_texts() == [
        "今天", "KPI", "渠道", "待审批", "用户反馈"
    ]  # fmt: skip
    # Telegram's theme colours reach the page.
    bg = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(239, 239, 243)"

    await page.click("#tabs [data-tab=kpi]")
    await page.locator("svg.chart.plan").wait_for()
    assert await page.inner_text(".nav .period") == "2026年11月"
    await page.locator("#trend svg.chart.trend").wait_for()
    assert await page.locator("#trend ul.legend li").count() >= 1
    await page.select_option("#person", label="王 伟")
    await page.locator("#score").wait_for()
    assert "加权得分" in await view.inner_text()
    await page.select_option("#person", value="")
    await page.click("[data-period=week]")
    await page.get_by_text("第48周", exact=False).first.wait_for()
    await page.click("[data-nav=earlier]")
    await page.get_by_text("第47周", exact=False).first.wait_for()

    await page.click("#tabs [data-tab=channels]")
    await page.locator("svg.chart.funnel").wait_for()
    assert await page.text_content("[data-stage=lead]") == "3"
    assert await page.text_content("[data-stage=signed]") == "1"
    await page.select_option("#region", value="dalian")
    await playwright_api.expect(page.locator("[data-channel]")).to_have_count(1)
    assert await page.text_content("[data-stage=lead]") == "1"
    assert await page.text_content("[data-channel]") == "大连电力"
    assert "华润物业" not in await view.inner_text()
    await page.click("[data-channel]")
    await page.locator("#channel-history").wait_for()
    assert "线索" in await page.inner_text("#channel-history")

    await page.click("#tabs [data-tab=feedback]")
    await page.get_by_text("缴费页面太慢").wait_for()
    assert "2 条，共被提及 3 次" in await view.inner_text()

    await page.click("#tabs [data-tab=approvals]")
    await page.get_by_text("周末缴费送积分").first.wait_for()
    assert page.outside == []


async def test_a_staff_member_sees_only_their_own_numbers(
    served, browser, sessions, settings, channel_manager, user_ops_manager
):
    page = await open_as(browser, served, signed(channel_manager, settings.require_token()))
    await page.get_by_text("王 伟").first.wait_for()
    text = await page.inner_text("#view")
    assert "Li Na" not in text
    assert await page.locator("#tabs button").all_inner_texts() == [
        "今天", "KPI", "渠道", "待审批"
    ]  # fmt: skip
    await page.click("#tabs [data-tab=kpi]")
    await page.locator("#score").wait_for()
    assert await page.locator("#person").count() == 0
    await page.click("[data-period=quarter]")
    await page.locator(".nav .period", has_text="2026年第四季度").wait_for()
    # Changing the request by hand (the page's own init data, Li Na's id) is refused.
    async with sessions() as s:
        lina = await staff_service.by_telegram_id(s, user_ops_manager.id)
    status = await page.evaluate(
        """async (other) => {
            const data = new URLSearchParams(location.hash.slice(1)).get("tgWebAppData");
            const headers = {Authorization: "tma " + data};
            const r = await fetch("app/api/kpi?person=" + other, {headers});
            const s = await fetch("app/api/feedback", {headers});
            return [r.status, s.status];
        }""",
        lina.id,
    )
    assert status == [403, 403]
    await page.click("#tabs [data-tab=channels]")
    await page.get_by_text("华润物业").wait_for()
    assert "沈阳燃气" not in await page.inner_text("#view")
    english = await open_as(browser, served, signed(user_ops_manager, settings.require_token()))
    await english.get_by_text("Li Na").first.wait_for()
    assert await english.locator("#tabs button").first.inner_text() == "Today"


async def test_an_approval_on_the_page_is_the_one_decision(
    served, browser, sim, sessions, settings, director
):
    card = next(m for m in reversed(director.inbox) if m.buttons)
    approve = next(b.callback_data for row in card.buttons for b in row if b.text == "✅ 批准")
    page = await open_as(browser, served, signed(director, settings.require_token()), "approvals")
    item = page.locator("[data-item^='plan:']")
    await item.wait_for()
    await item.locator("[data-decision=approve]").click()
    await page.get_by_text("已决定").wait_for()
    assert await page.locator("[data-item]").count() == 0
    plan = await the_plan(sessions)
    assert plan.status == "approved"
    edited = sim.message(director.id, card.message_id)
    assert edited.buttons == [] and "张 总" in edited.plain
    # A second press in chat, on the card as it was: refused, nothing changes.
    answer = await sim.callback_query(director, edited, approve)
    assert answer.show_alert and "已由 张 总 批准" in answer.text
    assert (await the_plan(sessions)).decided_at == plan.decided_at


async def test_reject_on_the_page_asks_for_the_reason(
    served, browser, sessions, settings, director
):
    page = await open_as(browser, served, signed(director, settings.require_token()), "approvals")
    item = page.locator("[data-item^='plan:']")
    await item.locator("[data-decision=reject]").click()
    await item.locator("textarea").fill("预算太高，请压缩到 2000 元")
    await item.locator("button[type=submit]").click()
    await page.get_by_text("已决定").wait_for()
    plan = await the_plan(sessions)
    assert plan.status == "rejected" and plan.decision_reason == "预算太高，请压缩到 2000 元"


@pytest.mark.parametrize("how", ["tampered", "expired", "foreign"])
async def test_bad_init_data_shows_nothing(served, browser, settings, director, how):
    token = settings.require_token()
    data = {
        "tampered": signed(director, token).replace("auth_date=", "auth_date=1"),
        "expired": signed(director, token, age=settings.web.init_data_max_age_seconds + 60),
        "foreign": signed(director, "654321:SOMEONE-ELSES-BOT"),
    }[how]
    page = await open_as(browser, served, data)
    await page.locator("#denied").wait_for()
    # The page asks for /me and its first page at once: both refused.
    assert sorted(page.api_statuses) == [401, 401]
    assert await page.locator("#tabs").is_hidden()
    assert (await page.inner_text("#view")).strip() == ""
    assert "王 伟" not in await page.content()
