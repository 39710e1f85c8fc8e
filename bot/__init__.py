"""opsbot core: configuration, clock, calendar, database, rendering and services."""

from pathlib import Path

# Templates, catalogs and migrations live beside the packages in the source tree; the project is
# installed in editable mode, so this finds them from any working directory.
ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
LOCALES_DIR = ROOT / "locales"
MIGRATIONS_DIR = ROOT / "alembic"
