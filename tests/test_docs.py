"""The README and docs/: links that lead somewhere, commands and settings that exist."""

import re
import shlex
from pathlib import Path

import pytest

from bot.cli import _parser
from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, tg:
RUN_SH = re.compile(r"\./run\.sh((?: +[^\s`#|][^`#|\n]*?)?)\s*(?=`|#|$)", re.MULTILINE)
ENV_NAME = re.compile(r"\bOPSBOT_([A-Z]+(?:_[A-Z]+)*)(?:__([A-Z_]+[A-Z]))?\b")
NOT_SETTINGS = {"CONFIG", "TEST_DATABASE_URL"}  # read by the CLI and the tests, not Settings


def _links(page: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(page.read_text(encoding="utf-8"))]


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_it_links_only_to_files_inside_the_repository(page):
    broken = []
    for target in _links(page):
        if EXTERNAL.match(target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
        elif not path.exists():
            broken.append(f"{target} (no such file)")
    assert not broken, f"{page.name}: {broken}"


def test_it_names_no_file_outside_the_repository():
    # A newcomer's checkout has no /work/shared: the department is described in docs/domain.md.
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for outside in ("DOMAIN.md", "../shared", "/work/"):
            assert outside not in text, f"{page.name} names {outside}; link docs/domain.md"


def test_it_shows_the_chart_it_describes():
    assert "docs/weekly-digest.png" in _links(README)
    assert (ROOT / "docs" / "weekly-digest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_its_quick_start_is_the_demo_then_the_bot():
    quick = _section(README.read_text(encoding="utf-8"), "Quick start")
    commands = [m.group(0).strip() for m in RUN_SH.finditer(quick)]
    assert commands == ["./run.sh demo", "./run.sh"]
    assert "export OPSBOT_TELEGRAM__TOKEN=" in quick
    assert "export OPSBOT_TEAM__DIRECTORS='[" in quick
    # ./run.sh with no arguments runs the bot; "demo" is an opsbot command it passes on.
    run_sh = (ROOT / "run.sh").read_text(encoding="utf-8")
    assert "if [ $# -eq 0 ]; then set -- run; fi" in run_sh
    assert 'exec .venv/bin/opsbot "$@"' in run_sh
    assert _parser().parse_args(["demo"]).command == "demo"


def test_its_two_commands_exist_and_set_up_one_environment():
    two = _section(README.read_text(encoding="utf-8"), "The two commands")
    assert "./run.sh " in two and "./test.sh " in two
    for script in ("run.sh", "test.sh"):
        path = ROOT / script
        assert path.stat().st_mode & 0o111, f"{script} is not executable"
        assert ". ./.setup-venv.sh" in path.read_text(encoding="utf-8")
    setup = (ROOT / ".setup-venv.sh").read_text(encoding="utf-8")
    assert "pyproject.toml" in setup and '-e ".[test]"' in setup


def test_every_run_sh_command_it_shows_is_an_opsbot_command():
    text = README.read_text(encoding="utf-8")
    shown = {m.group(1).strip() for m in RUN_SH.finditer(text)} - {""}
    shown = {args for args in shown if "…" not in args}
    assert shown, "no ./run.sh commands found: has the pattern rotted?"
    for args in sorted(shown):
        try:
            _parser().parse_args(shlex.split(args))
        except SystemExit:
            pytest.fail(f"README shows `./run.sh {args}`, which opsbot does not accept")


def test_every_setting_it_names_exists():
    groups = {name: field.annotation for name, field in Settings.model_fields.items()}
    unknown = set()
    for page in (README, ROOT / "docs" / "configuration.md"):
        for table, key in ENV_NAME.findall(page.read_text(encoding="utf-8")):
            if table in NOT_SETTINGS:
                continue
            if not key:
                known = table.lower() in groups
            else:
                fields = getattr(groups.get(table.lower()), "model_fields", {})
                known = key.lower() in fields
            if not known:
                unknown.add(f"OPSBOT_{table}__{key}" if key else f"OPSBOT_{table}")
    assert not unknown, f"the docs name settings that do not exist: {sorted(unknown)}"
