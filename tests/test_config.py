"""Configuration: TOML plus env, env wins, and one clear line for a bad value."""

import subprocess
import sys

import pytest

from bot.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(__import__("os").environ):
        if key.startswith("OPSBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_it_has_working_defaults():
    s = load_settings()
    assert s.database.url == "sqlite+aiosqlite:///opsbot.db"
    assert s.team.timezone == "Asia/Shanghai"
    assert s.team.locale == "zh"
    assert s.telegram.base_url == "https://api.telegram.org/bot"
    assert s.telegram.mode == "polling"


def test_it_reads_toml_and_lets_env_win(tmp_path, monkeypatch):
    (tmp_path / "opsbot.toml").write_text(
        '[team]\nname = "运营一部"\ndirectors = [1, 2]\n[database]\nurl = "sqlite+aiosqlite:///a.db"\n'
        "[calendar]\nextra_holidays = [2026-12-31]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("OPSBOT_DATABASE__URL", "sqlite+aiosqlite:///b.db")
    monkeypatch.setenv("OPSBOT_TEAM__DIRECTORS", "[7]")
    s = load_settings()
    assert s.team.name == "运营一部"
    assert s.team.directors == [7]
    assert s.database.url == "sqlite+aiosqlite:///b.db"
    assert str(s.calendar.extra_holidays[0]) == "2026-12-31"


def test_it_reads_the_token_from_a_file(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("42:SECRET\n")
    monkeypatch.setenv("OPSBOT_TELEGRAM__TOKEN_FILE", str(tmp_path / "token"))
    assert load_settings().require_token() == "42:SECRET"


def test_it_names_the_key_of_a_bad_value(monkeypatch):
    monkeypatch.setenv("OPSBOT_TEAM__TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "team.timezone" in str(err.value)
    assert "OPSBOT_TEAM__TIMEZONE" in str(err.value)


def test_it_rejects_unknown_keys_in_toml(tmp_path):
    (tmp_path / "opsbot.toml").write_text("[team]\nnmae = 'typo'\n")
    with pytest.raises(ConfigError, match=r"team\.nmae"):
        load_settings()


def test_it_rejects_a_sync_database_driver(monkeypatch):
    monkeypatch.setenv("OPSBOT_DATABASE__URL", "sqlite:///x.db")
    with pytest.raises(ConfigError, match=r"database\.url"):
        load_settings()


def test_it_explains_a_missing_config_file():
    with pytest.raises(ConfigError, match="not found"):
        load_settings("nowhere.toml")


def test_a_missing_token_points_to_botfather_and_demo():
    with pytest.raises(ConfigError) as err:
        load_settings().require_token()
    assert "@BotFather" in str(err.value)
    assert "opsbot demo" in str(err.value)


@pytest.mark.slow
def test_run_without_token_exits_with_one_clear_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "@BotFather" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_bad_env_value_exits_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "current"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "OPSBOT_TEAM__LOCALE": "fr"},
        timeout=60,
    )
    assert result.returncode == 2
    assert "team.locale" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_shipped_example_config_is_valid():
    from bot import ROOT

    s = load_settings(ROOT / "opsbot.example.toml")
    assert s.team.name == "互联网运营部"
    assert s.join.invite_ttl_hours == 72


def test_kpi_schedules_alone_keep_the_shipped_kpis(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "opsbot.toml").write_text(
        '[kpi]\nshow_scores_in_group = true\n[kpi.digests]\nweekly = "30 8 * * mon"\n'
    )
    s = load_settings()
    assert s.kpi.digests.weekly == "30 8 * * mon" and s.kpi.digests.daily == "30 18 * * *"
    assert s.kpi.show_scores_in_group is True
    assert [k.key for k in s.kpi.kpis][:2] == ["downloads", "contracts"]


def test_a_bad_cron_or_a_zero_kpi_target_names_the_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "opsbot.toml").write_text('[kpi.digests]\nweekly = "every monday"\n')
    with pytest.raises(ConfigError, match=r"kpi\.digests\.weekly"):
        load_settings()
    (tmp_path / "opsbot.toml").write_text(
        '[[kpi.kpis]]\nkey = "x"\nname = { zh = "x", en = "x" }\nroles = ["channel"]\n'
        'source = "channels"\nstage = "signed"\ntarget = 0\nweight = 1\n'
    )
    with pytest.raises(ConfigError, match=r"kpi\.kpis\.0\.target"):
        load_settings()
