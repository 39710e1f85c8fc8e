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


async def main(shots: bool) -> None:
    from bot.cli.demo import run_demo

    print(await header("dashboard: requests, bytes and first view per page", None))
    found: list[tuple] = []

    async def then(base, url_for):
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
