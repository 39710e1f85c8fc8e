"""The demo's dashboard: served on localhost with the scene's data, opened by a printed URL."""

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import httpx
import uvicorn
from telegram.ext import Application

from bot import clock
from bot.web import initdata
from bot.web.serve import _Beside
from bot.webhook import _listen, create_app

# Telegram's light theme, as a phone would pass it in the fragment.
THEME = {"bg_color": "#ffffff", "secondary_bg_color": "#efeff3", "text_color": "#000000",
         "hint_color": "#999999", "link_color": "#2481cc", "button_color": "#2481cc",
         "button_text_color": "#ffffff", "destructive_text_color": "#e53935"}  # fmt: skip
Served = Callable[[str, Callable[[dict], str]], Awaitable[None]]


def open_url(base: str, user: dict, token: str, tab: str | None = None) -> str:
    """The address Telegram would open for `user`: init data signed now, the theme, a tab."""
    data = initdata.sign(user, token, int(clock.now().timestamp()))
    fragment = f"tgWebAppData={quote(data)}&tgWebAppVersion=8.0&tgWebAppPlatform=demo"
    fragment += f"&tgWebAppThemeParams={quote(json.dumps(THEME))}"
    return f"{base}/app#{fragment}" + (f"&tab={tab}" if tab else "")


async def show(
    app: Application, director: dict, *, serve: bool, port: int, then: Served | None = None
) -> None:
    """Serve the dashboard on 127.0.0.1:`port` (0: any free port), check it answers, print the
    director's URL; with `serve`, keep serving until Ctrl-C; `then` (the bench) uses it first."""
    settings = app.bot_data.settings
    token = settings.require_token()
    sock = _listen("127.0.0.1", port, "demo --port")
    config = uvicorn.Config(create_app(app, settings), lifespan="off", access_log=False,
                            log_config=None, log_level="warning")  # fmt: skip
    server = _Beside(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        signed = initdata.sign(director, token, int(clock.now().timestamp()))
        async with httpx.AsyncClient(base_url=base) as http:
            answer = await http.get("/app/api/me", headers={"Authorization": f"tma {signed}"})
        me = answer.json()
        url = open_url(base, director, token)
        print(f"\n📊 The dashboard answers for {me['name']}: {', '.join(me['tabs'])}.")
        if then is not None:
            await then(base, lambda user: open_url(base, user, token))
        if serve:
            print(f"   Open it in a browser (signed for the director {me['name']}):\n   {url}")
            print("   Serving until Ctrl-C …", flush=True)
            await _until_interrupted()
        else:
            print("   To open it in a browser: opsbot demo --serve (it prints the signed URL).")
    finally:
        server.should_exit = True
        await serving


async def _until_interrupted() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
