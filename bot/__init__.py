"""opsbot core: configuration, clock, calendar, database, rendering and services."""

import sys
from pathlib import Path

# httpx imports its command-line tool (httpx._main) when imported, if it can: click and, where
# pytest put it, pygments load (~4.5 MB, ~40 ms) before rich is found missing. opsbot never
# runs that tool; without the module httpx defines a stub `main` instead (decision 67).
sys.modules.setdefault("httpx._main", None)

# Templates, catalogs and migrations live beside the packages in the source tree; the project is
# installed in editable mode, so this finds them from any working directory.
ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
LOCALES_DIR = ROOT / "locales"
MIGRATIONS_DIR = ROOT / "alembic"
