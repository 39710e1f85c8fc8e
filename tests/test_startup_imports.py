"""Start-up cost (issue 20, decision 67): what only some commands or a migration need is not
imported by the bot at start."""

import subprocess
import sys

from bot import migrate

# Charts (matplotlib), the pinyin search (pypinyin), exports (openpyxl), Alembic (only when the
# database is behind the code) and Babel (only to compile a .po newer than its .mo).
LAZY = ("alembic", "matplotlib", "pypinyin", "openpyxl", "numpy", "babel")


def test_the_bot_starts_without_what_only_some_commands_need():
    probe = "import sys, bot.app; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "telegram" in loaded  # the probe really imported the bot
    assert [m for m in LAZY if m in loaded] == []


def test_the_heads_read_from_the_scripts_are_alembics():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert migrate.heads() == frozenset(script.get_heads())
