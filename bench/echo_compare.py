"""CPU per update on opsbot's hot paths against a bare PTB echo bot, side by side (issue 20).

Each bot runs in a process of its own pinned to one core (os.sched_setaffinity), long-polling
(the real Updater) with the same rate limiter (`bot.app.rate_limiter()`, as shipped); this
process holds the simulators (one per bot) on the other core and plays the people, one update
at a time, each waiting for its answer. Rounds alternate which bot goes first, and every path
is measured in every round. The CPU is the bot process's own (user + system, every thread:
aiosqlite's worker and asyncpg included), read from the process before and after each block
of 5 updates; the latency is from the update's dispatch to its answer reaching the simulator.
The ratio compares each opsbot path with the echo bot's updates of the same kinds measured in
step with it (Twin: a block of the echo bot's before each block of opsbot's), so that the
host's speed, which drifts from second to second on a shared VM, is the same for both.
Before the measured rounds, each bot handles 5 updates of every path unmeasured (`--warmup`):
what a process does once (a template compiled at its first use, a statement at its first run)
is its start-up's cost, not every update's.

`--burst` instead: the one-message daily report filed by 200 staff within the same 10 seconds
at 18:00 (a report and a ✅ submit each), every answer checked, p95 latency reported.

Prints figures; stops with an error only when an answer is missing or a report was lost.
"""

import argparse
import asyncio
import gc
import html
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SCRIPT = Path(__file__).resolve()
AT = "2026-11-26 10:00"  # a Thursday: the daily report is owed today, due at 18:00
BURST_AT = "2026-11-26 17:59:55"
TEAM_TZ = "Asia/Shanghai"  # opsbot.example.toml's team timezone, for the echo bot's defaults
STAFF_ID = 3_000_000  # the 20 staff who ask /help, /my, answer forms, move channels
FILER_ID = 3_100_000  # one-message daily reports, each person once
JOINER_ID = 3_200_000  # people asking to join (the director approves them)
DIRECTOR_ID = 1001


# ---------------------------------------------------------------------------------------------
# The child: one bot, alone on its core.


async def child(args: argparse.Namespace) -> None:
    """Run one bot; answer "cpu" with this process's CPU seconds, "tick" by ticking once."""
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    if args.child == "echo":  # PTB and the limiter only: its start-up is a bare bot's
        app = build_echo(args)
        await app.initialize()
    else:
        gc.disable()  # as the `opsbot` script starts it (bot/launch.py); startup() resumes it
        from support import settings_for

        from bot import clock
        from bot.app import build_application, startup

        settings = settings_for(args.base_url, args.base_file_url, args.url)
        clock.start_at(datetime.fromisoformat(args.at).replace(tzinfo=settings.team.tz))
        app = build_application(settings)
        await app.initialize()
        await startup(app)
        for job in app.job_queue.get_jobs_by_name("tick"):  # ticks come on command here
            job.schedule_removal()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    await app.start()
    say(phase="ready", rss=rss_mb())
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "cpu":
            say(phase="cpu", cpu=time.process_time(), rss=rss_mb(), peak=peak_mb())
        elif line == "tick":
            from jobs.tick import tick

            await tick(app.bot_data, app.bot)
            say(phase="ticked")
        else:
            break
    await app.updater.stop()
    await app.stop()
    if args.child != "echo":
        from bot.app import shutdown

        await shutdown(app)
    await app.shutdown()
    say(phase="done", peak=peak_mb())


def build_echo(args: argparse.Namespace):
    """A bare PTB bot: bot/app.py's builder settings and limiter; a message is sent back with
    one button, a press answered and the message edited (what opsbot's presses do). It imports
    PTB and the limiter only (not opsbot's settings), so its start-up is a bare bot's too."""
    from zoneinfo import ZoneInfo

    from telegram import InlineKeyboardButton, InlineKeyboardMarkup
    from telegram.constants import ParseMode
    from telegram.ext import (
        ApplicationBuilder,
        CallbackQueryHandler,
        Defaults,
        MessageHandler,
        filters,
    )

    from bot.pacing import ChatPacer

    again = InlineKeyboardMarkup([[InlineKeyboardButton("again", callback_data="again")]])
    presses = [0]

    async def echo(update, context) -> None:
        text = html.escape(update.effective_message.text)
        await update.effective_chat.send_message(text, reply_markup=again)

    async def pressed(update, context) -> None:
        presses[0] += 1
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(f"again {presses[0]}", reply_markup=again)

    app = (
        ApplicationBuilder()
        .token(args.token)
        .base_url(args.base_url)
        .base_file_url(args.base_file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=ZoneInfo(TEAM_TZ)))
        .rate_limiter(ChatPacer(per_chat=True))  # bot/app.py's rate_limiter()
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    return app


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def rss_mb() -> float:
    """Resident memory now, in MB (bench/support.py's, without its imports)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    """Peak resident memory, in MB: VmHWM (bench/support.py's peak_rss_mb, without its imports,
    which would make the echo bot's start-up opsbot's)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


# ---------------------------------------------------------------------------------------------
# The parent: simulators, people, rounds.


class Bot:
    """A bot process and the simulator it polls."""

    def __init__(self, name: str, sim, proc: asyncio.subprocess.Process, ready: float) -> None:
        self.name, self.sim, self.proc = name, sim, proc
        self.ready = ready  # seconds from spawning the interpreter to polling

    async def ask(self, command: str, phase: str) -> dict:
        self.proc.stdin.write(f"{command}\n".encode())
        await self.proc.stdin.drain()
        return await heard(self.proc, phase)

    async def cpu(self) -> float:
        return (await self.ask("cpu", "cpu"))["cpu"]

    async def stop(self) -> dict:
        self.proc.stdin.write(b"stop\n")
        await self.proc.stdin.drain()
        done = await heard(self.proc, "done")
        await self.proc.wait()
        return done


async def spawn(kind: str, sim, url: str, core: int | None, at: str = AT) -> Bot:
    """A bot in a fresh interpreter, pinned to `core`, polling `sim`."""
    core_args = [] if core is None else ["--core", str(core)]
    began = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--child", kind, "--url", url, "--at", at,
        "--base-url", sim.base_url, "--base-file-url", sim.base_file_url, "--token", sim.token,
        *core_args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await heard(proc, "ready")
    return Bot(kind, sim, proc, time.perf_counter() - began)


async def heard(proc: asyncio.subprocess.Process, phase: str) -> dict:
    """Read the child's reports until `phase`; fail if it died first."""
    while True:
        line = await proc.stdout.readline()
        if not line:
            code = await proc.wait()
            raise RuntimeError(f"the bot process exited ({code}) before {phase!r}")
        try:
            said = json.loads(line)
        except ValueError:
            sys.stdout.write(line.decode(errors="replace"))
            continue
        if said.get("phase") == phase:
            return said


async def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:  # noqa: ASYNC109
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the bot did not answer in time")
        await asyncio.sleep(0.001)


async def send(sim, person, text: str) -> float:
    """Send `text`; seconds until the bot's answer reached the simulator."""
    before = sim.delivered(person.id)
    began = time.perf_counter()
    await person.send(text)
    await until(lambda: sim.delivered(person.id) > before)
    return time.perf_counter() - began


async def press(sim, person, message, label: str) -> float:
    """Press the button labelled (or carrying data) `label` without waiting for the bot to go
    idle (as `Persona.press` does); seconds until the message was edited or a new one came."""
    current = sim.message(message.chat_id, message.message_id)
    data = next(
        b.callback_data
        for row in current.buttons
        for b in row
        if label in (b.text, b.callback_data) or (b.callback_data or "").startswith(label)
    )
    before = (sim.delivered(person.id), current.edited_count)
    sim._update_id += 1  # as TelegramSimulator.callback_query, less its wait for idleness
    query_id = str(7_000_000_000_000_000 + sim._update_id)
    sim._queries[query_id] = None
    query = {
        "id": query_id,
        "from": person.user_dict,
        "message": sim.message_dict(current),
        "chat_instance": str(abs(current.chat_id) * 31 + sim.bot_id),
        "data": data,
    }
    began = time.perf_counter()
    await sim.dispatch({"callback_query": query})
    await until(lambda: (sim.delivered(person.id), current.edited_count) != before)
    return time.perf_counter() - began


@dataclass
class Path:
    """One hot path's measurements: CPU seconds and updates per round, every latency."""

    name: str
    echo: str  # the echo case it is compared with
    cpu: list[float] = field(default_factory=list)
    updates: list[int] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    # The echo bot's CPU and updates measured in step with this path (Twin), per round.
    twin_cpu: list[float] = field(default_factory=list)
    twin_updates: list[int] = field(default_factory=list)

    def open_round(self) -> None:
        for figures in (self.cpu, self.updates, self.twin_cpu, self.twin_updates):
            figures.append(0)

    def per_update_ms(self) -> list[float]:
        return [1000 * c / n for c, n in zip(self.cpu, self.updates, strict=True)]

    def twin_ms(self) -> list[float]:
        return [1000 * c / n for c, n in zip(self.twin_cpu, self.twin_updates, strict=True) if n]


@dataclass
class Twin:
    """The echo bot measured in step with opsbot: before each block of opsbot's updates, as
    many of its own of the same kinds (a message, a press). The host's speed changes from one
    second to the next (up to ±25 % between rounds here), so the ratio is taken between
    figures read seconds apart, not minutes."""

    bot: Bot
    people: list
    turn: int = 0

    async def block(self, path: Path, count: int) -> None:
        kinds = {"echo message": ("message",), "echo press": ("press",)}.get(
            path.echo, ("message", "press")
        )
        sim, before = self.bot.sim, await self.bot.cpu()
        for _ in range(count):
            person = self.people[self.turn % len(self.people)]
            self.turn += 1
            for kind in kinds:
                if kind == "message":
                    await send(sim, person, "/help")
                else:
                    await press(sim, person, person.inbox[-1], "again")
        path.twin_cpu[-1] += await self.bot.cpu() - before
        path.twin_updates[-1] += count * len(kinds)


BLOCK = 5  # opsbot's updates between two readings of its CPU, each after the twin's block


async def measured(bot: Bot, path: Path, actions, twin: Twin | None = None) -> None:
    """Run `actions` (coroutine factories returning latencies) between CPU readings, in blocks
    each after the twin's (if any) of the same size."""
    path.open_round()
    for start in range(0, len(actions), BLOCK):
        block = actions[start : start + BLOCK]
        if twin is not None:
            await twin.block(path, len(block))
        before = await bot.cpu()
        latencies = [await act() for act in block]
        path.cpu[-1] += await bot.cpu() - before
        path.updates[-1] += len(latencies)
        path.latency += latencies


class Scene:
    """The people of the opsbot run and where each of them is."""

    def __init__(self, sim, n: int, url: str) -> None:
        self.sim, self.n, self.url = sim, n, url
        self.director = sim.user(DIRECTOR_ID, "张总", username="zhang", language_code="zh")
        self.staff = [
            sim.user(STAFF_ID + i, f"员工{i:02d}", username=f"s{i}", language_code="zh")
            for i in range(20)
        ]
        self.cards: dict[int, object] = {}  # staff id -> their channel card
        self.stage: dict[int, str] = {}
        self.filers = 0
        self.joiners = 0

    def person(self, k: int):
        return self.staff[k % len(self.staff)]


async def prepare(scene: Scene) -> None:
    """Untimed: everyone has said /start, each of the 20 has a channel and a weekly form open."""
    sim = scene.sim
    await send(sim, scene.director, "/start")
    for p in scene.staff:
        await send(sim, p, "/start")
        await send(sim, p, f"/channel new 测试渠道{p.id}")
        picker = p.inbox[-1]
        await press(sim, p, picker, "沈阳")
        await press(sim, p, picker, "物业")
        scene.cards[p.id], scene.stage[p.id] = (
            sim.message(picker.chat_id, picker.message_id),
            "线索",
        )
        await send(sim, p, "/weekly")


async def opsbot_round(bot: Bot, scene: Scene, paths: dict[str, Path], twin: Twin) -> None:
    """Every opsbot path once, N updates each, the twin in step."""
    sim, n = scene.sim, scene.n
    for name, text in (("/help", "/help"), ("/my", "/my")):
        if name not in paths:
            continue
        acts = [lambda k=k, t=text: send(sim, scene.person(k), t) for k in range(n)]
        await measured(bot, paths[name], acts, twin)

    if "form answer" in paths or "form button (back)" in paths:
        await form_round(bot, scene, paths, twin)
    if "stage change" in paths:
        moves = [lambda k=k: move(scene, k) for k in range(n)]
        await measured(bot, paths["stage change"], moves, twin)
    if "approve (join card)" in paths:
        await join_round(bot, scene, paths, twin)
    if "approve (expense card)" in paths:
        await expense_round(bot, scene, paths, twin)
    if "daily report + submit" in paths:
        await daily_round(bot, scene, paths, twin)


async def form_round(bot: Bot, scene: Scene, paths: dict[str, Path], twin: Twin) -> None:
    """A form answer, then « back to that question: alternate, each measured on its own."""
    sim, n = scene.sim, scene.n
    answer, back = paths["form answer"], paths["form button (back)"]
    answer.open_round()
    back.open_round()
    for k in range(n):
        p = scene.person(k)
        for path, act in ((answer, lambda p=p: send(sim, p, "12")),
                          (back, lambda p=p: press(sim, p, p.inbox[-1], "« 返回"))):  # fmt: skip
            await twin.block(path, 1)
            before = await bot.cpu()
            path.latency.append(await act())
            path.cpu[-1] += await bot.cpu() - before
            path.updates[-1] += 1


async def move(scene: Scene, k: int) -> float:
    """A channel card's stage button: to 已接触, or back to 洽谈中."""
    p = scene.person(k)
    target = "已接触" if scene.stage[p.id] != "已接触" else "洽谈中"
    scene.stage[p.id] = target
    return await press(scene.sim, p, scene.cards[p.id], target)


async def join_round(bot: Bot, scene: Scene, paths: dict[str, Path], twin: Twin) -> None:
    """N people ask to join (untimed); the director approves each card."""
    sim, n = scene.sim, scene.n
    joiners = [
        sim.user(JOINER_ID + scene.joiners + i, f"新人{i}", language_code="zh") for i in range(n)
    ]
    scene.joiners += n
    cards = []
    for j in joiners:  # untimed: each asks to join; the director gets a card
        await send(sim, j, "/start")
        before = sim.delivered(scene.director.id)
        await press(sim, j, j.inbox[-1], "join:v1:role:channel")
        await until(lambda b=before: sim.delivered(scene.director.id) > b)
        cards.append(scene.director.inbox[-1])
    approve = [lambda c=c: press(sim, scene.director, c, "join:v1:ok:") for c in cards]
    await measured(bot, paths["approve (join card)"], approve, twin)


async def expense_round(bot: Bot, scene: Scene, paths: dict[str, Path], twin: Twin) -> None:
    """N expense claims filed (untimed); the director approves each card (✅ 批准)."""
    sim, n = scene.sim, scene.n
    before = sim.delivered(scene.director.id)
    await file_expenses(scene)
    await until(lambda: sim.delivered(scene.director.id) >= before + n)
    cards = scene.director.inbox[-n:]
    approve = [lambda c=c: press(sim, scene.director, c, "apr:v1:ok:") for c in cards]
    await measured(bot, paths["approve (expense card)"], approve, twin)


async def daily_round(bot: Bot, scene: Scene, paths: dict[str, Path], twin: Twin) -> None:
    """N people file the daily report in one message, then press ✅ submit."""
    from bot.cli.demo import DAILY_IN_ONE_MESSAGE

    sim, n = scene.sim, scene.n
    filers = [
        sim.user(FILER_ID + scene.filers + i, f"经理{i}", language_code="zh") for i in range(n)
    ]
    scene.filers += n
    path = paths["daily report + submit"]

    async def file(p, i: int) -> float:
        text = DAILY_IN_ONE_MESSAGE.format(new=i % 4, signed=i % 2, downloads=400 + i,
                                           registrations=60 + i % 90)  # fmt: skip
        first = await send(sim, p, text)
        return (first + await press(sim, p, p.inbox[-1], "✅ 提交")) / 2

    await measured(bot, path, [lambda i=i, p=p: file(p, i) for i, p in enumerate(filers)], twin)
    path.updates[-1] *= 2  # a report and its submit: two updates each


async def file_expenses(scene: Scene) -> None:
    """N expense claims (the shipped form: ¥300 from the expenses pool, no receipt), one per
    staff member, filed as their ✅ submit files one; the bot's sender job sends the cards."""
    from datetime import date

    from support import settings_for

    from bot import clock
    from bot.db import make_engine, make_sessionmaker
    from bot.services import approvals, staff

    sim = scene.sim
    settings = settings_for(sim.base_url, sim.base_file_url, scene.url)
    form = settings.reports.form("expense")
    answers = {"purpose": "打印宣传单", "amount": 30_000, "spent_on": "2026-11-25",
               "pool": "expenses", "receipts": []}  # fmt: skip
    # The bot's clock (AT): a row queued at the parent's real time would not be due there yet.
    clock.start_at(datetime.fromisoformat(AT).replace(tzinfo=settings.team.tz))
    engine = make_engine(scene.url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            for k in range(scene.n):
                proposer = await staff.by_telegram_id(s, scene.person(k).id)
                await approvals.submit(
                    s, proposer, form, answers, reports=settings.reports,
                    today=date(2026, 11, 26), pools=settings.budgets.pools,
                )  # fmt: skip
    finally:
        clock.reset()
        await engine.dispose()


async def echo_round(bot: Bot, people: list, paths: dict[str, Path], n: int) -> None:
    """The echo bot: N messages, then N presses on its answers."""
    sim = bot.sim
    messages = [lambda k=k: send(sim, people[k % len(people)], "/help") for k in range(n)]
    await measured(bot, paths["echo message"], messages)
    await measured(bot, paths["echo press"], [
        lambda k=k: press(sim, people[k % len(people)], people[k % len(people)].inbox[-1], "again")
        for k in range(n)
    ])  # fmt: skip


async def warm_up(
    echo: Bot, ops: Bot, scene: Scene, echo_people: list, paths: dict[str, Path], twin: Twin,
    n: int,
) -> None:  # fmt: skip
    """An unmeasured first round, `n` updates of every path on both bots: what a bot does once
    in its life (a template compiled at its first use, a statement at its first run, PTB's and
    aiohttp's first calls) is not counted as the cost of every update."""
    unmeasured = {name: Path(name, path.echo) for name, path in paths.items()}
    measured_n, scene.n = scene.n, n
    try:
        await echo_round(echo, echo_people, unmeasured, n)
        await opsbot_round(ops, scene, unmeasured, twin)
    finally:
        scene.n = measured_n
    print(f"warm-up done ({n} updates of each path, unmeasured)", flush=True)


OPS_PATHS = (
    ("/help", "echo message"),
    ("/my", "echo message"),
    ("form answer", "echo message"),
    ("form button (back)", "echo press"),
    ("stage change", "echo press"),
    ("approve (join card)", "echo press"),
    ("approve (expense card)", "echo press"),
    ("daily report + submit", "echo message + press"),
)


def chosen(names: str | None) -> list[tuple[str, str]]:
    """The paths `--paths` names (comma-separated parts of their names), every one by default;
    a form answer and its « back are measured together."""
    parts = [p.strip() for p in (names or "").split(",") if p.strip()]
    found = [(n, e) for n, e in OPS_PATHS if not parts or any(p in n for p in parts)]
    if any(n.startswith("form ") for n, _ in found):
        found = [(n, e) for n, e in OPS_PATHS if (n, e) in found or n.startswith("form ")]
    if not found:
        raise SystemExit(f"--paths: none of {names!r} in {[n for n, _ in OPS_PATHS]}")
    return found


async def populate(url: str, filers: int) -> None:
    """Migrate; the 20 staff (channel managers) and `filers` more; today's obligations."""
    from sqlalchemy import insert, select

    from bot import clock
    from bot.config import load_settings
    from bot.db import make_engine, make_sessionmaker
    from bot.migrate import upgrade
    from bot.models import Staff, StaffRole

    settings = load_settings(database={"url": url})
    engine = make_engine(url)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        joined = clock.parse_local("2026-01-05 09:00", settings.team.tz)
        people = [(STAFF_ID + i, f"员工{i:02d}") for i in range(20)]
        people += [(FILER_ID + i, f"经理{i}") for i in range(filers)]
        async with sessions() as s, s.begin():
            await s.execute(insert(Staff), [
                dict(telegram_id=tid, display_name=name, username=None, locale="zh",
                     active=True, joined_at=joined) for tid, name in people
            ])  # fmt: skip
            ids = (await s.execute(select(Staff.id))).scalars().all()
            await s.execute(insert(StaffRole), [dict(staff_id=i, role="channel") for i in ids])
    finally:
        await engine.dispose()


def summary(paths: dict[str, Path]) -> None:
    """The table: CPU ms per update (median over rounds, min–max), the ratio to the echo bot
    (the median of each round's ratio to the twin measured in step), latency."""
    print(f"{'path':<24} {'CPU ms/update':>14} {'(min–max)':>14} {'vs echo':>8} "
          f"{'latency ms p50':>15} {'p95':>6}")  # fmt: skip
    rows = [("echo message", "echo message"), ("echo press", "echo press"), *OPS_PATHS]
    for name in [name for name, _ in rows if name in paths]:
        p = paths[name]
        per = p.per_update_ms()
        lat = sorted(p.latency)
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] * 1000
        ratios = [o / e for o, e in zip(per, p.twin_ms(), strict=False)]
        ratio = f"{statistics.median(ratios):.2f}×" if ratios else ""
        spread = f"{min(per):.2f}–{max(per):.2f}"
        print(f"{name:<24} {statistics.median(per):>14.2f} {spread:>14} {ratio:>8} "
              f"{statistics.median(lat) * 1000:>15.1f} {p95:>6.1f}")  # fmt: skip


async def compare(args: argparse.Namespace) -> None:
    """Rounds of every path on both bots, alternating which goes first."""
    from support import BOT_USERNAME, TOKEN, fresh_database, header

    from bot.simulator import TelegramSimulator

    title = f"opsbot vs a bare PTB echo bot: CPU per update, {args.rounds} rounds × n={args.n}"
    print(await header(title, args.db), flush=True)
    cores = sorted(os.sched_getaffinity(0))
    bot_core = cores[0] if len(cores) > 1 else None
    if bot_core is not None:
        os.sched_setaffinity(0, set(cores[1:]))  # the simulators and people: the other core(s)
    print(f"bots pinned to core {bot_core}; simulators and people on {cores[1:] or cores}")
    paths = {name: Path(name, against) for name, against in chosen(args.paths)}
    paths |= {"echo message": Path("echo message", ""), "echo press": Path("echo press", "")}
    async with (
        TelegramSimulator(token=TOKEN, bot_username="echo_bench_bot") as echo_sim,
        TelegramSimulator(token=TOKEN, bot_username=BOT_USERNAME) as sim,
        fresh_database(args.db) as url,
    ):
        await populate(url, args.n * args.rounds + args.warmup)
        scene = Scene(sim, args.n, url)
        scene.director.started = True  # the tick may write to the director before /start
        echo = await spawn("echo", echo_sim, url, bot_core)
        ops = await spawn("opsbot", sim, url, bot_core)
        try:
            await ops.ask("tick", "ticked")  # today's obligations, as the minute tick makes
            await prepare(scene)
            echo_people = [
                echo_sim.user(STAFF_ID + i, f"员工{i:02d}", language_code="zh") for i in range(20)
            ]
            for p in echo_people:
                await send(echo_sim, p, "hello")
            twin = Twin(echo, echo_people)
            if args.warmup:
                await warm_up(echo, ops, scene, echo_people, paths, twin, args.warmup)
            for r in range(args.rounds):
                order = ("echo", "opsbot") if r % 2 == 0 else ("opsbot", "echo")
                for which in order:
                    if which == "echo":
                        await echo_round(echo, echo_people, paths, args.n)
                    else:
                        await opsbot_round(ops, scene, paths, twin)
                print(f"round {r + 1}/{args.rounds} done ({' then '.join(order)})", flush=True)
        finally:
            ops_done, echo_done = await ops.stop(), await echo.stop()
        problems = [c for s in (sim, echo_sim) for c in s.calls
                    if not c.ok and c.method != "getUpdates"]  # fmt: skip
        if problems or sim.errors or echo_sim.errors:
            raise RuntimeError(f"failed calls: {failures(problems)}")
        filed = args.n * args.rounds + args.warmup if "daily report + submit" in paths else 0
        await check_reports(url, filed)
    print()
    summary(paths)
    print(f"\npeak RSS: opsbot {ops_done['peak']:.0f} MB, echo bot {echo_done['peak']:.0f} MB")
    print(
        f"process start to polling (pinned, database at head after the first start): opsbot "
        f"{ops.ready:.2f} s, echo bot {echo.ready:.2f} s ({ops.ready / echo.ready:.2f}×)"
    )
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


async def startups(args: argparse.Namespace) -> None:
    """Process start to polling, the echo bot and opsbot alternately, each pinned to a core;
    and `opsbot run`, the console script as a deployment starts it (settings from the
    environment, the webhook check, its "running as" line), in turn with them."""
    from support import BOT_USERNAME, TOKEN, fresh_database, header

    from bot.simulator import TelegramSimulator

    print(await header(f"process start to polling, {args.starts} starts each", args.db))
    cores = sorted(os.sched_getaffinity(0))
    bot_core = cores[0] if len(cores) > 1 else None
    if bot_core is not None:
        os.sched_setaffinity(0, set(cores[1:]))
    ready: dict[str, list[float]] = {"echo": [], "opsbot": [], "opsbot run": []}
    async with (
        TelegramSimulator(token=TOKEN, bot_username="echo_bench_bot") as echo_sim,
        TelegramSimulator(token=TOKEN, bot_username=BOT_USERNAME) as sim,
        fresh_database(args.db) as url,
    ):
        await populate(url, 0)  # migrated and seeded: each start finds the database at head
        for i in range(args.starts):
            kinds = ("echo", "opsbot", "opsbot run")
            for kind in kinds if i % 2 == 0 else reversed(kinds):
                if kind == "opsbot run":
                    ready[kind].append(await run_script(sim, url, bot_core))
                    continue
                bot = await spawn(kind, echo_sim if kind == "echo" else sim, url, bot_core)
                ready[kind].append(bot.ready)
                await bot.stop()
    median = {kind: statistics.median(seconds) for kind, seconds in ready.items()}
    for kind, seconds in ready.items():
        print(f"{kind:<10} median {median[kind]:.2f} s "
              f"(min {min(seconds):.2f}, max {max(seconds):.2f})")  # fmt: skip
    print(f"opsbot / echo bot: {median['opsbot'] / median['echo']:.2f}×; "
          f"opsbot run / echo bot: {median['opsbot run'] / median['echo']:.2f}×")  # fmt: skip
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


async def run_script(sim, url: str, core: int | None) -> float:
    """Seconds from starting `opsbot run` (settings from the environment, as a deployment
    gives them; bench_settings' values) to its "running as" line; then SIGTERM."""
    from support import DIRECTOR_ID as director

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OPSBOT_DATABASE__URL": url,
        "OPSBOT_TELEGRAM__TOKEN": sim.token,
        "OPSBOT_TELEGRAM__BASE_URL": sim.base_url,
        "OPSBOT_TELEGRAM__BASE_FILE_URL": sim.base_file_url,
        "OPSBOT_TELEGRAM__PACE_PER_CHAT": "false",
        "OPSBOT_TEAM__NAME": "互联网运营部",
        "OPSBOT_TEAM__DIRECTORS": f"[{director}]",
        "PYTHONDONTWRITEBYTECODE": "1",  # the bytecode is there (compile_like_run_sh)
    }
    script = os.path.join(os.path.dirname(sys.executable), "opsbot")  # the venv's console script
    ours = os.sched_getaffinity(0)
    began = time.perf_counter()
    if core is not None:  # the script inherits the core (a preexec_fn would slow the spawn)
        os.sched_setaffinity(0, {core})
    try:
        proc = await asyncio.create_subprocess_exec(
            script,
            "run",
            env=env,
            cwd="/",  # where no ./opsbot.toml is
            stderr=asyncio.subprocess.PIPE,
        )
    finally:
        os.sched_setaffinity(0, ours)
    while b"opsbot running as @" not in (line := await proc.stderr.readline()):
        if not line:
            raise RuntimeError(f"opsbot run exited ({await proc.wait()}) before it ran")
    seconds = time.perf_counter() - began
    proc.terminate()
    await proc.wait()
    return seconds


def failures(calls) -> list[tuple]:
    """What failed: method, chat, Telegram's description."""
    return [(c.method, c.params.get("chat_id"), c.error_description) for c in calls]


async def check_reports(url: str, expected: int) -> None:
    """Every daily report filed is in the database, once."""
    from sqlalchemy import func, select

    from bot.db import make_engine
    from bot.models import Report

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(select(func.count()).select_from(Report))
    finally:
        await engine.dispose()
    if found != expected:
        raise RuntimeError(f"{expected} daily reports filed, {found} in the database")


async def burst(args: argparse.Namespace) -> None:
    """`--people` staff each file the daily report in one message and press ✅ submit, all
    starting within `--window` seconds of 18:00 (the bot's clock), as shipped (limiter on)."""
    from support import BOT_USERNAME, TOKEN, fresh_database, header

    from bot.cli.demo import DAILY_IN_ONE_MESSAGE
    from bot.simulator import TelegramSimulator

    title = f"burst: {args.people} daily reports + submit within {args.window:.0f} s at 18:00"
    print(await header(title, args.db), flush=True)
    rng = random.Random(args.seed)
    async with (
        TelegramSimulator(token=TOKEN, bot_username=BOT_USERNAME) as sim,
        fresh_database(args.db) as url,
    ):
        await populate(url, args.people)
        people = [sim.user(FILER_ID + i, f"经理{i}", language_code="zh")
                  for i in range(args.people)]  # fmt: skip
        others = [sim.user(STAFF_ID + i, f"员工{i:02d}", language_code="zh") for i in range(20)]
        for p in (sim.user(DIRECTOR_ID, "张总", language_code="zh"), *others, *people):
            p.started = True  # they use the bot: the tick's reminders reach them
        ops = await spawn("opsbot", sim, url, None, at=BURST_AT)
        try:
            await ops.ask("tick", "ticked")  # the 17:00 reminder to each, sent before the burst
            await sim.wait_idle(quiet=0.5, timeout=120)
            offsets = sorted(rng.uniform(0, args.window) for _ in people)
            latencies: list[float] = []

            async def one(i: int, p, offset: float, began: float) -> None:
                await asyncio.sleep(max(0.0, began + offset - time.perf_counter()))
                text = DAILY_IN_ONE_MESSAGE.format(new=i % 4, signed=i % 2, downloads=400 + i,
                                                   registrations=60 + i % 90)  # fmt: skip
                latencies.append(await send(sim, p, text))
                latencies.append(await press(sim, p, p.inbox[-1], "✅ 提交"))

            before = await ops.cpu()
            began = time.perf_counter()
            await asyncio.gather(*(one(i, p, o, began) for i, (p, o) in
                                   enumerate(zip(people, offsets, strict=True))))  # fmt: skip
            wall = time.perf_counter() - began
            cpu = await ops.cpu() - before
        finally:
            done = await ops.stop()
        problems = [c for c in sim.calls if not c.ok and c.method != "getUpdates"]
        if problems or sim.errors:
            raise RuntimeError(f"failed calls: {failures(problems)}")
        await check_reports(url, args.people)
    lat = sorted(latencies)
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    print(f"{2 * args.people} updates answered, {args.people} reports in the database (none lost)")
    median, worst = statistics.median(lat) * 1000, lat[-1] * 1000
    print(f"all done {wall:.1f} s after the first; reply latency median {median:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {worst:.0f} ms")  # fmt: skip
    print(f"bot CPU {cpu:.1f} s ({1000 * cpu / (2 * args.people):.1f} ms per update); "
          f"peak RSS {done['peak']:.0f} MB")  # fmt: skip
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds per bot (default 6)")
    parser.add_argument("--n", type=int, default=40, help="updates per path per round (40)")
    parser.add_argument(
        "--warmup", type=int, default=5,
        help="updates of each path on both bots before the measured rounds, unmeasured (5)",
    )  # fmt: skip
    parser.add_argument("--db", help="a postgresql+asyncpg:// server URL instead of SQLite")
    parser.add_argument("--burst", action="store_true", help="the 18:00 burst instead")
    parser.add_argument("--people", type=int, default=200, help="--burst: staff filing (200)")
    parser.add_argument("--window", type=float, default=10.0, help="--burst: seconds (10)")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument(
        "--paths", help='only these paths: parts of their names, comma-separated ("approve")'
    )
    parser.add_argument("--starts", type=int, help="only start-up: start each bot N times")
    parser.add_argument("--child", choices=("echo", "opsbot"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--at", default=AT, help=argparse.SUPPRESS)
    parser.add_argument("--core", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--base-file-url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the comparison (or the burst) and print the figures."""
    args = parse_args(argv)
    if args.child:
        asyncio.run(child(args))
        return
    from support import check_db_option, compile_like_run_sh

    check_db_option(args.db)
    compile_like_run_sh()  # the bot processes load bytecode, as started by ./run.sh
    if args.starts:
        asyncio.run(startups(args))
    else:
        asyncio.run(burst(args) if args.burst else compare(args))


if __name__ == "__main__":
    main()
