"""`opsbot check`: one line per thing the bot needs, OK or what to fix; exit 0 if all pass."""

import socket
from datetime import date

import pytest
from alembic.script import ScriptDirectory
from conftest import DIRECTOR_ID
from support import opsbot_env, run_opsbot
from telegram import Bot

from bot import clock, migrate
from bot.cli import check
from bot.config import load_settings
from bot.services import team

GROUP_ID = -100777
HEAD = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
JUNE_2026 = "2026-06-01 10:00"  # 2026 is in chinesecalendar 1.11, 2027 is not


@pytest.fixture
async def bound_group(sim, sessions, settings, director):
    """The team group, with the bot in it and bound by the director."""
    group = sim.group(GROUP_ID, "互联网运营部群", type="supergroup")
    await sim.add_bot_to_group(group, by=director)
    async with sessions() as s, s.begin():
        await team.ensure(s, settings.team)
        await team.bind_group(s, GROUP_ID, group.title, DIRECTOR_ID)
    return group


def lines(results: list[check.Result]) -> dict[str, list[str]]:
    """The report by check name, each line as printed."""
    by_name: dict[str, list[str]] = {}
    for result in results:
        by_name.setdefault(result.name, []).append(result.line())
    return by_name


async def run_check(settings, at: str = JUNE_2026) -> list[check.Result]:
    clock.start_at(clock.parse_local(at, settings.team.tz))
    return await check.run(settings)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.databases
async def test_it_passes_with_a_migrated_database_and_a_bound_group(sim, bound_group, db_url):
    env = opsbot_env(sim, db_url, OPSBOT_CLOCK_START=JUNE_2026)
    code, out, err = await run_opsbot("check", env=env)

    assert code == 0, out + err
    assert err == ""
    report = out.splitlines()
    assert [line[:5] for line in report] == ["OK   "] * 6 + ["WARN "] + ["OK   "]
    assert report[0].startswith("OK   config: no file, defaults and OPSBOT_* variables;")
    assert report[1].startswith("OK   database: ") and report[1].endswith(f" at head {HEAD}")
    assert (
        report[2]
        == f"OK   telegram: @opsbot_test_bot (id 123456) at {sim.base_url[7:-4]} (no proxy)"
    )
    assert report[3] == "OK   webhook: none set (polling mode)"
    assert report[4] == f"OK   group: 互联网运营部群 ({GROUP_ID}), the bot is member"
    assert report[5] == "OK   calendar: 2026: statutory holidays and make-up days known"
    assert report[6].startswith(
        "WARN calendar: 2027: not in chinesecalendar 1.11.0, so the fallback"
    )
    assert "extra_holidays" in report[6] and "extra_workdays" in report[6]
    assert report[7].startswith("OK   chart font: ") and report[7].endswith(
        "NotoSansCJKsc-Regular.otf"
    )


@pytest.mark.slow
@pytest.mark.databases
async def test_it_fails_when_the_database_is_not_at_head(sim, bound_group, engine, db_url):
    await migrate.downgrade(engine, "-1")
    env = opsbot_env(sim, db_url, OPSBOT_CLOCK_START=JUNE_2026)
    code, out, _ = await run_opsbot("check", env=env)

    assert code == 1
    (database,) = [line for line in out.splitlines() if "database:" in line]
    assert database.startswith("FAIL database: ")
    assert f"head is {HEAD} — run `opsbot db upgrade`" in database


async def test_it_fails_for_a_missing_sqlite_file_and_creates_none(sim, settings, tmp_path):
    missing = tmp_path / "nowhere.db"
    settings.database.url = f"sqlite+aiosqlite:///{missing}"
    report = lines(await run_check(settings))

    assert report["database"] == [
        f"FAIL database: no SQLite file at {missing} — check database.url (OPSBOT_DATABASE__URL); "
        "`opsbot db upgrade` or `opsbot run` creates it"
    ]
    assert report["group"] == ["SKIP group: not checked: the database did not answer"]
    assert not missing.exists()


async def test_it_fails_when_telegram_cannot_be_reached(settings, bound_group):
    port = closed_port()
    settings.telegram.base_url = f"http://127.0.0.1:{port}/bot"
    results = await run_check(settings)
    report = lines(results)

    (telegram,) = report["telegram"]
    assert telegram.startswith(
        f"FAIL telegram: cannot reach Telegram at 127.0.0.1:{port} (no proxy)"
    )
    assert "connection refused" in telegram and "telegram.proxy" in telegram
    assert report["webhook"] == ["SKIP webhook: not checked: Telegram did not answer"]
    assert any(r.failed for r in results)


@pytest.mark.slow
async def test_it_fails_for_a_token_telegram_does_not_know(sim, db_url, bound_group):
    env = opsbot_env(sim, db_url, OPSBOT_CLOCK_START=JUNE_2026)
    env["OPSBOT_TELEGRAM__TOKEN"] = "123456:REVOKED"
    code, out, _ = await run_opsbot("check", env=env)

    assert code == 1
    (telegram,) = [line for line in out.splitlines() if "telegram:" in line]
    assert telegram.startswith("FAIL telegram: Telegram at 127.0.0.1:")
    assert "refused the bot token (getMe: Unauthorized)" in telegram and "@BotFather" in telegram
    assert "REVOKED" not in out


async def test_it_fails_when_a_webhook_is_set_in_polling_mode(sim, settings, bound_group):
    async with Bot(sim.token, base_url=sim.base_url) as bot:
        await bot.set_webhook("https://elsewhere.example/hook")
    report = lines(await run_check(settings))

    assert report["webhook"] == [
        "FAIL webhook: Telegram has a webhook set to https://elsewhere.example/hook, but "
        "telegram.mode is polling (polling would refuse to start) — run `opsbot webhook delete`, "
        'or set telegram.mode = "webhook"'
    ]


async def test_webhook_mode_wants_its_own_webhook(sim, settings, bound_group):
    settings.telegram.mode = "webhook"
    settings.telegram.webhook_url = "https://bot.example.org/telegram"
    (none,) = lines(await run_check(settings))["webhook"]
    async with Bot(sim.token, base_url=sim.base_url) as bot:
        await bot.set_webhook("https://other.example.org/telegram")
    (other,) = lines(await run_check(settings))["webhook"]
    async with Bot(sim.token, base_url=sim.base_url) as bot:
        await bot.set_webhook("https://bot.example.org/telegram")
    (ours,) = lines(await run_check(settings))["webhook"]

    assert none.startswith("FAIL webhook: none is set, but telegram.mode is webhook")
    assert other.startswith(
        "FAIL webhook: Telegram posts updates to https://other.example.org/telegram, "
        "not telegram.webhook_url https://bot.example.org/telegram"
    )
    # The bot joining the group left two updates waiting for whoever takes them.
    assert ours == "OK   webhook: set to https://bot.example.org/telegram, 2 update(s) pending"


async def test_it_fails_when_the_bot_is_no_longer_in_the_group(
    sim, settings, bound_group, director
):
    await sim.remove_bot_from_group(bound_group, by=director)
    results = await run_check(settings)

    assert lines(results)["group"] == [
        f"FAIL group: the bot is no longer in 互联网运营部群 ({GROUP_ID}) (status kicked) — "
        "add the bot to the team group and send /bind there as a director"
    ]
    assert any(r.failed for r in results)


async def test_it_fails_when_no_group_is_bound(sim, settings, engine):
    report = lines(await run_check(settings))
    assert report["group"] == [
        "FAIL group: no team group is bound — add the bot to the team group and send /bind there "
        "as a director"
    ]


def test_the_calendar_fails_for_this_year_and_warns_for_next_year_on_the_fallback():
    settings = load_settings()
    this, following = check.check_calendar(settings, date(2027, 3, 1))
    assert this.status == "FAIL" and this.text.startswith("2027: not in chinesecalendar")
    assert following.status == "WARN" and following.text.startswith("2028: not in chinesecalendar")
    assert "[calendar] extra_holidays = [2028-02-16, …]" in following.text


def test_days_in_the_config_cover_a_year_the_library_does_not_know():
    settings = load_settings(
        calendar={"extra_holidays": [date(2027, 2, 16), date(2027, 2, 17)],
                  "extra_workdays": [date(2027, 2, 7)]}
    )  # fmt: skip
    this, _ = check.check_calendar(settings, date(2027, 3, 1))
    assert this.line() == (
        "OK   calendar: 2027: not in chinesecalendar 1.11.0; Monday–Friday with the 2 holiday(s) "
        "and 1 make-up workday(s) from [calendar] in the config"
    )


def test_a_missing_chart_font_is_a_failure(monkeypatch):
    from bot import charts

    def missing():
        raise RuntimeError("CJK font NotoSansCJKsc-Regular.otf not found: …")

    monkeypatch.setattr(charts, "cjk_font_path", missing)
    assert check.check_font().line().startswith("FAIL chart font: CJK font")


async def test_the_years_come_from_the_clock(settings, engine):
    calendar = lines(await run_check(settings, at="2027-03-01 10:00"))["calendar"]
    assert [line[:20] for line in calendar] == ["FAIL calendar: 2027:", "WARN calendar: 2028:"]
