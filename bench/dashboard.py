"""The dashboard's weight and speed in the OS's Chromium, on the demo's data: per page, the
requests it makes (count, bytes over the wire) and the time to its first view at phone size;
with --shots, a phone-size screenshot of each page under docs/dashboard/.

    .venv/bin/python bench/dashboard.py [--shots]    # ~1.5 min (the demo's scene first)
"""

import argparse
import asyncio
import contextlib
import io
import shutil
import sys
import time

from support import header

from bot import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PHONE = {"width": 360, "height": 740}
SHOTS = ROOT / "docs" / "dashboard"
# What each page shows once loaded (its first view).
PAGES = {
    "today": "#view h1",
    "kpi": "svg.chart.plan",
    "channels": "svg.chart.funnel",
    "approvals": "#view section.card, #view p.muted",
    "feedback": "svg.chart.bars",
}
WANG = {"id": 2002, "first_name": "王伟", "language_code": "zh"}
DIRECTOR = {"id": 1001, "first_name": "张总", "language_code": "zh"}


async def measure(base: str, url_for, shots: bool) -> list[tuple]:
    """Open each page as the director (and 王伟's own view) and measure it."""
    from playwright.async_api import async_playwright

    rows = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        views = [("director", DIRECTOR, tab) for tab in PAGES] + [("staff", WANG, "kpi")]
        for who, user, tab in views:
            # A fresh context each time: nothing cached, as a first open on a phone.
            context = await browser.new_context(viewport=PHONE, device_scale_factor=2)
            page = await context.new_page()
            sizes: list[int] = []

            async def finished(request, sizes=sizes):
                sizes_ = await request.sizes()
                sizes.append(sizes_["responseBodySize"] + sizes_["responseHeadersSize"])

            page.on("requestfinished", finished)
            started = time.perf_counter()
            await page.goto(url_for(user) + f"&tab={tab}")
            await page.locator(PAGES[tab]).first.wait_for()
            first_view = time.perf_counter() - started
            await page.wait_for_load_state("networkidle")
            rows.append((who, tab, len(sizes), sum(sizes), first_view))
            if shots:
                SHOTS.mkdir(parents=True, exist_ok=True)
                name = f"{tab}.png" if who == "director" else f"{tab}-staff.png"
                await page.screenshot(path=str(SHOTS / name), full_page=False)
            await context.close()
        await browser.close()
    return rows


# A plan 王伟 proposes after the scene, so that something waits on the approvals page.
PLAN = """/activity
活动主题：元旦缴费抽奖
活动目的：提高缴费用户留存
量化指标：缴费用户 300 人
线上还是线下？：线上
开始日期：2026-12-28
结束日期：2027-01-03
主要地区：沈阳
涉及的渠道：华润物业
需要的物资：礼品
预算（元）：2000
预期收益 / 效果预估：缴费用户 +5%
风险预估与危机处理：奖品被刷：每人限一次"""


FEEDBACK = (
    (2002, "/feedback 缴费页面太慢，经常卡住"),
    (2003, "/feedback 缴费页面太慢，经常卡住！"),
    (2002, "/feedback 希望增加电子发票"),
    (2003, "/feedback The app crashes when I open the bill"),
    (2002, "/feedback 物业费能不能便宜点"),
)


async def propose(sim) -> None:
    """The week's feedback, and 王伟 submits PLAN; returns once the director has its card."""
    for who, text in FEEDBACK:
        person = sim.users[who]
        before = len(person.inbox)
        await person.send(text)
        await _until(lambda person=person, before=before: len(person.inbox) > before)
    global _last
    wang, director = sim.users[2002], sim.users[1001]
    _last = lambda: wang.inbox[-1].plain if wang.inbox else ""  # noqa: E731
    cards = len(director.inbox)
    await wang.send(PLAN)
    await _until(lambda: wang.inbox and "提交" in str(wang.inbox[-1].buttons))
    await wang.press(wang.inbox[-1], "✅ 提交")
    await _until(lambda: len(director.inbox) > cards)


def _last() -> str:
    return ""


async def _until(done, limit: float = 15.0) -> None:
    for _ in range(int(limit / 0.05)):
        if done():
            return
        await asyncio.sleep(0.05)
    raise SystemExit(f"the bot did not answer in the bench's scene: {_last()}")


async def main(shots: bool) -> None:
    from bot.cli.demo import run_demo

    print(await header("dashboard: requests, bytes and first view per page", None))
    found: list[tuple] = []

    async def then(base, url_for, sim):
        await propose(sim)
        found.extend(await measure(base, url_for, shots))

    with contextlib.redirect_stdout(io.StringIO()):  # the scene's transcript is not the point
        await run_demo(then=then)
    print(f"{'viewer':<9}{'page':<11}{'requests':>9}{'KB':>8}{'first view':>12}")
    for who, tab, count, size, seconds in found:
        print(f"{who:<9}{tab:<11}{count:>9}{size / 1024:>8.1f}{seconds * 1000:>10.0f} ms")
    if shots:
        print(f"screenshots: {SHOTS.relative_to(ROOT)}/")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shots", action="store_true", help="write docs/dashboard/*.png")
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("no Chromium: apt-get install -y chromium")
    asyncio.run(main(args.shots))
