"""`opsbot db backup`: SQLite's online backup; for PostgreSQL, the pg_dump command to run."""

import sqlite3
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for any other database."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    return Path(parsed.database or "")


def default_target(source: Path, now: datetime) -> Path:
    """opsbot.db -> opsbot-backup-20261126-1630.db, beside the original."""
    return source.with_name(f"{source.stem}-backup-{now:%Y%m%d-%H%M%S}{source.suffix}")


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy a live SQLite database page by page (writers may go on); returns the page count.

    sqlite3's backup API copies a consistent snapshot even while the bot writes (WAL mode),
    which copying the file would not: the -wal file holds the latest transactions.
    """
    if not source.is_file():
        raise FileNotFoundError(f"no SQLite database at {source}")
    if target.exists():
        raise FileExistsError(f"{target} exists; choose another --out")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst, pages=1024)
        pages = dst.execute("PRAGMA page_count").fetchone()[0]
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise RuntimeError(f"the copy at {target} failed its integrity check")
        return pages
    finally:
        dst.close()
        src.close()


def pg_dump_command(url: str, target: str) -> str:
    """The pg_dump command for a PostgreSQL URL (the password stays out: use PGPASSWORD)."""
    u = make_url(url)
    bare = URL.create("postgresql", u.username, None, u.host, u.port, u.database, u.query)
    conninfo = bare.render_as_string(hide_password=False)
    return f"pg_dump --format=custom --file={target} '{conninfo}'"
