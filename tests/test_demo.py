"""`opsbot demo` as a newcomer runs it: on a busy machine, writing nothing it was not asked to."""

import asyncio
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

# More spinning processes than CI has cores, so the bot, the simulator and the sender job all
# wait for the CPU: the demo used to read the director's card before the outbox delivered it.
SPINNERS = max(3, (os.cpu_count() or 2) + 1)


def _spin() -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(SPINNERS)]


async def test_demo_finishes_under_cpu_load_and_writes_no_files(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    spinners = _spin()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "demo",
            env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), timeout=600)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    text = out.decode()
    assert proc.returncode == 0, err.decode()[-3000:]
    assert "活动已批准：周末缴费送积分" in text  # scene 11, the one that raced the outbox
    # Scene 13b: a weekly task, confirmed, and this Monday's occurrence sent at once.
    assert "🔁 已为 王伟 开启周期任务。" in text and "🔁 张总 交办的周期任务" in text
    # Scene 13c: the claim's receipt rides on the card, two steps, the pool charged.
    assert "第 2/2 步：财务复核" in text and "[🖼  收据.jpg" in text
    assert "费用预算（2026年12月）：¥10,000.00，已用 ¥6,800.00，待批 ¥0.00，剩余 ¥3,200.00" in text
    # Scene 13d: reviewed in two steps, approved with a comment, then published.
    assert "附言：标题再短一点，周五上午发" in text
    assert "王伟 已发布：《冬季安全用电指南》 https://mp.weixin.qq.com/s/winter-power-guide" in text
    assert "今日签约数：1 ← “万达签了”" in text  # scene 15: a daily report typed as a sentence
    assert "渠道带来的下载量：750 ← “带来下载750”" in text
    assert "demo finished" in text
    assert "opsbot demo --chart" in text  # tells how to get the chart instead of writing it
    assert list(tmp_path.iterdir()) == []  # no chart (or anything else) in the current directory
