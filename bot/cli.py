"""Command line: opsbot run | db … | staff … | jobs run tick | demo | i18n update."""

import argparse
import asyncio
import logging
import sys

from bot import clock
from bot.config import ConfigError, Settings, load_settings

log = logging.getLogger("opsbot")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `opsbot` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "demo":
            return _demo(args)
        settings = load_settings(args.config)
        _start_clock(settings)
        return args.func(settings, args)
    except ConfigError as exc:
        print(f"opsbot: {exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"opsbot: {exc}", file=sys.stderr)
        return 1


class CliError(Exception):
    """A command that cannot be carried out; the message says why and what to do."""


def _start_clock(settings: Settings) -> None:
    if settings.clock_start:
        try:
            clock.start_at(clock.parse_local(settings.clock_start, settings.team.tz))
        except ValueError as exc:
            raise ConfigError(f"config error: clock_start (OPSBOT_CLOCK_START): {exc}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="opsbot", description=__doc__)
    p.add_argument("--config", help="TOML file (default: $OPSBOT_CONFIG or ./opsbot.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("run", help="migrate the database and run the bot").set_defaults(func=_run)

    db = sub.add_parser("db", help="database migrations").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="upgrade to the newest schema").set_defaults(func=_db_upgrade)
    down = db.add_parser("downgrade", help="downgrade to a revision ('base' = empty)")
    down.add_argument("revision")
    down.set_defaults(func=_db_downgrade)
    db.add_parser("current", help="print the schema revision").set_defaults(func=_db_current)

    _staff_parser(sub)

    jobs = sub.add_parser("jobs", help="run scheduled work by hand").add_subparsers(
        dest="jobs", required=True
    )
    run = jobs.add_parser("run", help="run one job once and exit")
    run.add_argument("job", choices=["tick"])
    run.add_argument("--at", help='team-local time "YYYY-MM-DD HH:MM" (default: now)')
    run.set_defaults(func=_jobs_run)
    due = jobs.add_parser("due", help="list what a tick would send now (or --at), and why")
    due.add_argument("--at", help='team-local time "YYYY-MM-DD HH:MM" (default: now)')
    due.set_defaults(func=_jobs_due)

    demo = sub.add_parser("demo", help="a scripted scene against the built-in simulator")
    demo.add_argument("--speed", type=float, default=0.0, help="seconds between lines")

    i18n = sub.add_parser("i18n", help="translation catalogs").add_subparsers(
        dest="i18n", required=True
    )
    i18n.add_parser("update", help="merge new messages into locales/*/messages.po").set_defaults(
        func=_i18n_update
    )
    return p


def _staff_parser(sub) -> None:
    staff = sub.add_parser("staff", help="manage staff").add_subparsers(dest="staff", required=True)
    add = staff.add_parser("add", help="add a person (or reactivate them) with roles")
    add.add_argument("telegram_id", type=int)
    add.add_argument("--name", required=True)
    add.add_argument("--username")
    add.add_argument("--role", action="append", required=True, help="repeat for several roles")
    add.add_argument("--locale", default=None, choices=["zh", "en"])
    add.set_defaults(func=_staff_cmd)
    staff.add_parser("list", help="list staff").set_defaults(func=_staff_cmd)
    setr = staff.add_parser("set-role", help="replace a person's roles")
    setr.add_argument("telegram_id", type=int)
    setr.add_argument("roles", nargs="+")
    setr.set_defaults(func=_staff_cmd)
    off = staff.add_parser("deactivate", help="turn a person's access off")
    off.add_argument("telegram_id", type=int)
    off.set_defaults(func=_staff_cmd)


def _run(settings: Settings, args) -> int:
    from bot.app import build_application

    settings.require_token()
    app = build_application(settings)
    log.warning("opsbot starting (polling); database %s", _safe_url(settings.database.url))
    app.run_polling(allowed_updates=["message", "callback_query", "my_chat_member"])
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _db_upgrade(settings: Settings, args) -> int:
    from bot import migrate

    asyncio.run(_with_engine(settings, migrate.upgrade))
    print("database is at", asyncio.run(_with_engine(settings, migrate.current)))
    return 0


def _db_downgrade(settings: Settings, args) -> int:
    from bot import migrate

    asyncio.run(_with_engine(settings, lambda e: migrate.downgrade(e, args.revision)))
    print("database is at", asyncio.run(_with_engine(settings, migrate.current)) or "base")
    return 0


def _db_current(settings: Settings, args) -> int:
    from bot import migrate

    print(asyncio.run(_with_engine(settings, migrate.current)) or "base (empty database)")
    return 0


async def _with_engine(settings: Settings, action):
    from bot.db import make_engine

    engine = make_engine(settings.database.url)
    try:
        return await action(engine)
    finally:
        await engine.dispose()


def _staff_cmd(settings: Settings, args) -> int:
    from bot.staff_cli import run_staff_command

    try:
        print(asyncio.run(run_staff_command(settings, args)))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return 0


def _jobs_run(settings: Settings, args) -> int:
    from bot.jobs_cli import run_tick_once

    try:
        at = clock.parse_local(args.at, settings.team.tz) if args.at else None
    except ValueError as exc:
        raise CliError(f"--at: {exc}") from None
    report = asyncio.run(run_tick_once(settings, at))
    print(
        f"tick at {report.at.astimezone(settings.team.tz):%Y-%m-%d %H:%M}: "
        f"{report.enqueued} enqueued, {report.sent} sent"
    )
    return 0


def _jobs_due(settings: Settings, args) -> int:
    from bot.jobs_cli import list_due

    try:
        at = clock.parse_local(args.at, settings.team.tz) if args.at else None
    except ValueError as exc:
        raise CliError(f"--at: {exc}") from None
    for line in asyncio.run(list_due(settings, at)):
        print(line)
    return 0


def _demo(args) -> int:
    from bot.demo import run_demo

    return asyncio.run(run_demo(speed=args.speed))


def _i18n_update(settings: Settings, args) -> int:
    from bot.i18n_catalog import update

    missing = update()
    for locale, ids in missing.items():
        for msgid in ids:
            print(f"{locale}: untranslated: {msgid}")
    return 1 if any(missing.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
