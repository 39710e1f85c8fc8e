"""Start-up cost (issue 20, decision 67): what only some commands or a migration need is not
imported by the bot at start, and the collector does not walk what the start made while it
loads (bot/launch.py)."""

import gc
import subprocess
import sys
import tomllib

from bot import ROOT, migrate
from bot.app import startup

# Charts (matplotlib), the pinyin search (pypinyin), exports (openpyxl), Alembic (only when the
# database is behind the code), Babel (only to compile a .po newer than its .mo),
# PostgreSQL's dialect and driver (only when the database is PostgreSQL), and cryptography,
# which PTB imports whenever it is installed (Telegram Passport, unused; ~10 ms of start):
# no dependency of opsbot's, test extras included, may bring it into the one environment.
LAZY = (
    "alembic",
    "matplotlib",
    "pypinyin",
    "openpyxl",
    "numpy",
    "babel",
    "sqlalchemy.dialects.postgresql",
    "asyncpg",
    "cryptography",
)


def loaded_by(probe: str) -> list[str]:
    """The modules a fresh interpreter holds after running `probe`."""
    probe += "\nimport sys; print(' '.join(sorted(sys.modules)))"
    said = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return said.stdout.split()


def test_the_bot_starts_without_what_only_some_commands_need():
    loaded = loaded_by("import bot.app")
    assert "telegram" in loaded  # the probe really imported the bot
    assert [m for m in LAZY if m in loaded] == []


def test_aiohttp_loads_no_certificates_as_the_bot_imports_it():
    # aiohttp's own contexts are left empty (they trust no server); the system's certificates
    # load once, at the first https:// call (tests/test_aiohttp_request.py), and every other
    # context made in the process loads them as before.
    probe = (
        "import ssl, bot.app, aiohttp.connector as c\n"
        "print(c._SSL_CONTEXT_VERIFIED.cert_store_stats()['x509_ca'],"
        " c._SSL_CONTEXT_VERIFIED.verify_mode == ssl.CERT_REQUIRED,"
        " ssl.create_default_context().cert_store_stats()['x509_ca'] > 0,"
        " 'set_default_verify_paths' in ssl.SSLContext.__dict__)"
    )
    said = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert said.stdout.split() == ["0", "True", "True", "False"]


def test_the_heads_read_from_the_scripts_are_alembics():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert migrate.heads() == frozenset(script.get_heads())


def test_the_opsbot_script_loads_the_bot_with_the_collector_paused():
    # The real `bot.cli` replaced by one that says whether the collector ran while it loaded.
    probe = (
        "import gc, sys, types\n"
        "cli = types.ModuleType('bot.cli')\n"
        "cli.main = lambda: print('collecting' if gc.isenabled() else 'paused') or 3\n"
        "sys.modules['bot.cli'] = cli\n"
        "from bot.launch import main\n"
        "code = main()\n"
        "print('collecting' if gc.isenabled() else 'paused', code)\n"
    )
    said = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert said == ["paused", "collecting", "3"]  # and on again once the command is done
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["opsbot"] == "bot.launch:main"


async def test_startup_resumes_a_paused_collector_with_what_it_made_frozen(app):
    gc.disable()
    try:
        await startup(app)
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0  # start-up's objects are out of the collector's sight
    finally:
        gc.unfreeze()
        gc.enable()


async def test_startup_leaves_a_running_collector_alone(app):
    await startup(app)
    assert gc.isenabled() and gc.get_freeze_count() == 0
