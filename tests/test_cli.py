"""The command line: run (polling the simulator), db migrations, staff management, demo."""

import argparse
import asyncio
import os
import signal
import sys

import pytest
from support import opsbot_env, run_opsbot, wait_for_answer

pytestmark = [pytest.mark.databases, pytest.mark.slow]


@pytest.fixture
def fresh_url(tmp_path) -> str:
    """An empty SQLite database file."""
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


async def test_db_commands_upgrade_report_and_downgrade(fresh_url):
    env = opsbot_env(None, fresh_url)
    code, out, _ = await run_opsbot("db", "current", env=env)
    assert code == 0 and "base" in out
    code, out, err = await run_opsbot("db", "upgrade", env=env)
    assert code == 0, err
    head = out.split()[-1]
    code, out, _ = await run_opsbot("db", "current", env=env)
    assert out.strip() == head
    code, out, _ = await run_opsbot("db", "downgrade", "base", env=env)
    assert code == 0 and "base" in out


async def test_staff_commands_add_list_set_role_and_deactivate(db_url):
    env = opsbot_env(None, db_url)
    code, out, err = await run_opsbot(
        "staff", "add", "555", "--name", "赵六", "--role", "channel", env=env
    )
    assert code == 0, err
    assert "赵六" in out
    code, out, _ = await run_opsbot("staff", "set-role", "555", "channel", "content", env=env)
    assert code == 0 and "channel, content" in out
    code, out, _ = await run_opsbot("staff", "list", env=env)
    assert "555" in out and "[channel, content]" in out and "active" in out
    code, out, _ = await run_opsbot("staff", "deactivate", "555", env=env)
    assert code == 0
    code, out, _ = await run_opsbot("staff", "list", env=env)
    assert "off" in out


async def test_staff_commands_explain_mistakes(fresh_url):
    env = opsbot_env(None, fresh_url)
    code, _, err = await run_opsbot("staff", "add", "1", "--name", "x", "--role", "boss", env=env)
    assert code == 1 and "unknown role 'boss'" in err and "director" in err
    code, _, err = await run_opsbot("staff", "deactivate", "42", env=env)
    assert code == 1 and "no staff with Telegram id 42" in err
    await run_opsbot("staff", "add", "7", "--name", "总监", "--role", "director", env=env)
    code, _, err = await run_opsbot("staff", "deactivate", "7", env=env)
    assert code == 1 and "director" in err and "Traceback" not in err


async def test_run_migrates_then_answers_through_the_simulator(sim, tmp_path):
    db = tmp_path / "run.db"
    env = opsbot_env(sim, f"sqlite+aiosqlite:///{db}", OPSBOT_TEAM__DIRECTORS="[1001]")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env=env,
        cwd=str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    director = sim.user(id=1001, first_name="张", last_name="总", language_code="zh")
    try:
        await director.send("/start")
        await wait_for_answer(director)
        assert "欢迎回来" in director.inbox[-1].plain
        assert sim.menu(sim.user(id=1, first_name="x", language_code="zh"))  # default menu set
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, err.decode()
    assert db.exists()


async def test_demo_runs_without_a_token(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    chart = tmp_path / "chart.png"
    code, out, err = await run_opsbot("demo", "--chart", str(chart), env=env, limit=240)
    assert code == 0, err
    assert "欢迎加入团队，王伟" in out
    assert "已由 张总 拒绝" in out
    assert "本群（运营部工作群）已设为团队群" in out
    assert "team group followed to -1000000004002" in out
    assert out.count("我无法再联系到 Li Na") == 1
    assert "已按时提交，谢谢！" in out  # 王伟's daily report, step by step
    assert "Filed on time. Thank you!" in out  # Li Na's weekly summary in one message
    assert "渠道已加入渠道库" in out and "按渠道库统计，这一天是 1" in out
    assert "now 2 users" in out  # a repeated /feedback counted up
    assert "1. 缴费页面太慢，经常卡住 (2 users)" in out  # …and pre-filled into the weekly summary
    assert "📊 用户反馈周报" in out and "提交人：Li Na" in out  # announced to the director/group
    assert "与第 1 版相比的修改" in out and "活动已批准：周末缴费送积分" in out  # the plan's loop
    assert "计划 5,000 次，实际 4,200 (84%)" in out  # the activity's review card
    assert "已逾期" in out and "连续 2 期未提交" in out  # a nag and an escalation
    assert out.count("王伟 — 渠道拓展日报：连续 2 期未提交") == 1
    assert "团队汇报情况" in out  # /team
    assert "每周简报 · 第48周（11月23日–29日）" in out  # last week's digest on Monday morning
    assert "每日简报 · 2026年12月8日（周二）" in out and "已提交（1）：王伟" in out  # a day's
    assert "72 小时后（11月29日 16:30）失效" in out  # the invite's expiry read as a day, not ISO
    assert "周报：Li Na、王伟、赵敏" in out  # the weekly digest lists names with 、 in Chinese
    assert "每周简报 · 第50周（12月7日–13日）" in out and "阶段下载量完成度" in out  # the last
    # One channel signed in the library that week; the month's 4 fall on its last 4 working days.
    assert "签约渠道完成度：1 / 0 · 本期计划为 0" in out
    assert chart.read_bytes().startswith(b"\x89PNG") and f"saved to {chart}" in out
    # A task in Chinese: assigned (Friday 17:00), postponed to Monday, done and accepted.
    assert "📌 张总 交办的新任务" in out and "截止：12月11日（周五）17:00" in out
    assert "申请的新截止时间：12月14日（周一）18:00" in out and "理由：万科物业的联系人" in out
    assert "🕒 张总 同意了新的截止时间" in out and "✅ 王伟 已完成任务 #1" in out
    assert "✅ 张总 已验收任务 #1" in out
    assert "demo finished" in out


def _registered(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    """Every runnable command the parser knows, found without bot.cli's own listing code."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return [prefix.strip()]
    return [
        name
        for word, child in groups[0].choices.items()
        for name in _registered(child, f"{prefix}{word} ")
    ]


async def test_help_lists_every_command_with_a_one_line_description():
    from bot.cli import _parser

    code, out, err = await run_opsbot("--help", env={"PATH": os.environ.get("PATH", "")})
    assert code == 0, err
    listed = []  # (name, description) per line of the list
    for line in out.split("commands:\n", 1)[1].split("\n\n")[0].splitlines():
        name, _, text = line.strip().partition("  ")
        listed.append((name, text.strip()))
    registered = _registered(_parser())
    assert {"export", "jobs due", "jobs run", "db backup", "check", "i18n update"} <= set(
        registered
    )
    for command in registered:
        # A command with fixed arguments is listed with them: `webhook info|delete`.
        texts = [text for name, text in listed if name == command or name.startswith(command + " ")]
        assert texts and texts[0], f"`opsbot {command}` is missing from `opsbot --help`"
    assert "webhook info|delete" in out and "jobs run tick" in out
    assert len(listed) == len(registered)
