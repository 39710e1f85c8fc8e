"""`opsbot db backup`: a consistent copy of a live SQLite database; pg_dump for PostgreSQL."""

import sqlite3

import pytest
from support import opsbot_env, run_opsbot

from bot.cli.backup import pg_dump_command

pytestmark = [pytest.mark.databases, pytest.mark.slow]


async def test_a_live_sqlite_database_is_copied_while_it_is_being_written(tmp_path):
    db = tmp_path / "opsbot.db"
    env = opsbot_env(None, f"sqlite+aiosqlite:///{db}")
    code, _, err = await run_opsbot("staff", "add", "42", "--name", "王伟", "--role", "channel",
                                    env=env)  # fmt: skip
    assert code == 0, err
    writer = sqlite3.connect(db)  # a writer holding an open transaction, as the bot would
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE staff SET display_name = '未提交的名字'")
    try:
        out_file = tmp_path / "copy.db"
        code, out, err = await run_opsbot("db", "backup", "--out", str(out_file), env=env)
    finally:
        writer.rollback()
        writer.close()
    assert code == 0, err
    assert "integrity ok" in out
    copy = sqlite3.connect(out_file)
    assert copy.execute("SELECT display_name FROM staff").fetchall() == [("王伟",)]
    assert copy.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    code, _, err = await run_opsbot("db", "backup", "--out", str(out_file), env=env)
    assert code == 1 and "exists" in err  # never overwrites


async def test_postgresql_gets_the_pg_dump_command(tmp_path):
    env = opsbot_env(None, "postgresql+asyncpg://ops:secret@db.example:5432/opsbot")
    code, out, _ = await run_opsbot("db", "backup", "--out", "x.dump", env=env)
    assert code == 0
    assert "pg_dump --format=custom --file=x.dump 'postgresql://ops@db.example:5432/opsbot'" in out
    assert "secret" not in out


def test_pg_dump_command_drops_the_driver_and_password():
    cmd = pg_dump_command("postgresql+asyncpg://u:p@h/d", "f.dump")
    assert cmd == "pg_dump --format=custom --file=f.dump 'postgresql://u@h/d'"
