"""opsbot: run the bot, check its set-up, manage its database and staff, run its jobs by hand."""

import argparse
import asyncio
import logging
import sys
from datetime import datetime
from pathlib import Path

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
    p = argparse.ArgumentParser(
        prog="opsbot", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--config", help="TOML file (default: $OPSBOT_CONFIG or ./opsbot.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", help="migrate the database and run the bot").set_defaults(func=_run)
    sub.add_parser(
        "check", help="check config, database, Telegram (proxy, token, webhook, group), calendar"
    ).set_defaults(func=_check)
    webhook = sub.add_parser("webhook", help="the webhook Telegram has for this bot")
    webhook.add_argument("action", choices=["info", "delete"])
    webhook.set_defaults(func=_webhook_cmd)

    db = sub.add_parser("db", help="database migrations").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="upgrade to the newest schema").set_defaults(func=_db_upgrade)
    down = db.add_parser("downgrade", help="downgrade to a revision ('base' = empty)")
    down.add_argument("revision")
    down.set_defaults(func=_db_downgrade)
    db.add_parser("current", help="print the schema revision").set_defaults(func=_db_current)
    backup = db.add_parser("backup", help="copy a live SQLite database (PostgreSQL: pg_dump)")
    backup.add_argument("--out", type=Path, help="the copy (default: beside it, time-stamped)")
    backup.set_defaults(func=_db_backup)

    _staff_parser(sub)

    jobs = sub.add_parser("jobs", help="run scheduled work by hand").add_subparsers(
        dest="jobs", required=True
    )
    run = jobs.add_parser("run", help="run one job once and exit")
    run.add_argument("job", choices=["tick"])
    run.add_argument("--at", help='team-local time "YYYY-MM-DD HH:MM" (default: now)')
    run.set_defaults(func=_jobs_run)
    due = jobs.add_parser("due", help="a dry run of the tick now (or --at): what it would do")
    due.add_argument("--at", help='team-local time "YYYY-MM-DD HH:MM" (default: now)')
    due.set_defaults(func=_jobs_due)

    demo = sub.add_parser("demo", help="a scripted scene against the built-in simulator")
    demo.add_argument("--speed", type=float, default=0.0, help="seconds between lines")
    demo.add_argument("--chart", type=Path, default=None,
                      help="also save the week's digest chart to this PNG file")  # fmt: skip
    demo.add_argument(
        "--serve",
        action="store_true",
        help="then keep serving the dashboard on localhost (prints its URL)",
    )
    demo.add_argument(
        "--port",
        type=int,
        default=0,
        help="the dashboard's local port with --serve (default: any free one)",
    )

    i18n = sub.add_parser("i18n", help="translation catalogs").add_subparsers(
        dest="i18n", required=True
    )
    i18n.add_parser("update", help="merge new messages into locales/*/messages.po").set_defaults(
        func=_i18n_update
    )

    export = sub.add_parser("export", help="write everything recorded in a date range to XLSX")
    export.add_argument("--from", dest="start", help="first team-local day, YYYY-MM-DD")
    export.add_argument("--to", dest="end", help="last team-local day, YYYY-MM-DD (inclusive)")
    export.add_argument("--period", help="instead of --from/--to: 2026-11, 2026-W48, 2026-Q4 …")
    export.add_argument("--out", help="the .xlsx file to write")
    export.add_argument("--locale", choices=["zh", "en"], help="default: the team's language")
    export.add_argument(
        "--with-files",
        metavar="DIR",
        type=Path,
        help="also download the photos and documents filed in the range into DIR/<form>/ "
        "(files already there are skipped)",
    )
    export.set_defaults(func=_export)
    _add_command_list(p)
    return p


def _add_command_list(parser: argparse.ArgumentParser) -> None:
    """List every command in the top-level help, read from the parser so the list cannot drift;
    each command's own --help gets its one-line description too."""
    rows = list(commands(parser))
    width = max(len(name) for name, _, _ in rows) + 2
    lines = [f"  {name:<{width}}{text}" for name, _, text in rows]
    parser.epilog = "commands:\n" + "\n".join(lines) + "\n\n'opsbot COMMAND --help' tells more."
    for _, command, text in rows:
        command.description = command.description or text
    # argparse would list the top level a second time, without the nested commands: keep the
    # usage line it makes (… COMMAND ...), drop its list.
    parser.usage = parser.format_usage().removeprefix("usage: ").strip()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            action.help = argparse.SUPPRESS


def commands(parser: argparse.ArgumentParser, prefix: str = ""):
    """Every runnable command as (name, its parser, its one-line help), nested ones included."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, command in action.choices.items():
            nested = list(commands(command, f"{prefix}{name} "))
            yield from nested or [
                (prefix + name + _choices(command), command, helps.get(name) or "")
            ]


def _choices(parser: argparse.ArgumentParser) -> str:
    # A positional with fixed choices is part of the command's name: `webhook info|delete`.
    fixed = [a.choices for a in parser._actions if not a.option_strings and a.choices]
    return "".join(" " + "|".join(choices) for choices in fixed)


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
    from bot.app import PollingStopped, build_application, poll

    settings.require_token()
    app = build_application(settings)
    mode = settings.telegram.mode
    # Said once Telegram has answered, so a start that fails is that one failure line alone.
    app.bot_data.extras["started_note"] = f"database {_safe_url(settings.database.url)}"
    if mode == "webhook":
        from bot.webhook import WebhookError, serve

        try:
            asyncio.run(serve(app, settings))
        except WebhookError as exc:
            raise CliError(str(exc)) from None
        return 0
    try:
        if settings.web.port is not None:  # /healthz, /metrics and the dashboard beside polling
            from bot.web.serve import poll_and_serve
            from bot.webhook import WebhookError

            try:
                asyncio.run(poll_and_serve(app, settings))
            except WebhookError as exc:  # the port is taken
                raise CliError(str(exc)) from None
        else:
            asyncio.run(poll(app))
    except PollingStopped as exc:
        if not exc.logged:  # refused to start: said the way configuration errors are
            print(f"opsbot: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def _webhook_cmd(settings: Settings, args) -> int:
    from telegram.error import TelegramError

    from bot.webhook import delete_webhook, webhook_info

    try:
        if args.action == "delete":
            print(asyncio.run(delete_webhook(settings)))
        else:
            print("\n".join(asyncio.run(webhook_info(settings))))
    except TelegramError as exc:
        raise CliError(f"Telegram answered: {exc}") from None
    return 0


def _check(settings: Settings, args) -> int:
    from bot.cli import check

    results = asyncio.run(check.run(settings, args.config))
    for result in results:
        print(result.line())
    return 1 if any(r.failed for r in results) else 0


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


def _db_backup(settings: Settings, args) -> int:
    from bot.cli import backup

    source = backup.sqlite_file(settings.database.url)
    if source is None:
        target = args.out or Path(f"opsbot-{clock.now():%Y%m%d-%H%M%S}.dump")
        print("PostgreSQL: run pg_dump (set PGPASSWORD if the server wants one):")
        print("  " + backup.pg_dump_command(settings.database.url, str(target)))
        print("restore with: pg_restore --clean --dbname=<url> " + str(target))
        return 0
    target = args.out or backup.default_target(source, clock.now())
    try:
        pages = backup.backup_sqlite(source, target)
    except (FileNotFoundError, FileExistsError, RuntimeError) as exc:
        print(f"opsbot: db backup: {exc}", file=sys.stderr)
        return 1
    print(f"{target}: {pages} pages, integrity ok (restore: stop the bot, copy it over {source})")
    return 0


async def _with_engine(settings: Settings, action):
    from bot.db import make_engine

    engine = make_engine(settings.database.url)
    try:
        return await action(engine)
    finally:
        await engine.dispose()


def _staff_cmd(settings: Settings, args) -> int:
    from bot.cli.staff import run_staff_command

    try:
        print(asyncio.run(run_staff_command(settings, args)))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return 0


def _at(settings: Settings, args) -> datetime | None:
    """The moment `--at` names, in the team's zone; None (now) without it."""
    try:
        return clock.parse_local(args.at, settings.team.tz) if args.at else None
    except ValueError as exc:
        raise CliError(f"--at: {exc}") from None


def _jobs_run(settings: Settings, args) -> int:
    from bot.cli.jobs import run_tick_once

    at = _at(settings, args)
    report = asyncio.run(run_tick_once(settings, at))
    print(
        f"tick at {report.at.astimezone(settings.team.tz):%Y-%m-%d %H:%M}: "
        f"{report.enqueued} enqueued, {report.sent} sent"
    )
    return 0


def _jobs_due(settings: Settings, args) -> int:
    from bot.cli.jobs import list_due

    at = _at(settings, args)
    try:
        lines = asyncio.run(list_due(settings, at))
    except ValueError as exc:
        raise CliError(f"jobs due: {exc}") from None
    for line in lines:
        print(line)
    return 0


def _demo(args) -> int:
    from bot.cli.demo import run_demo

    return asyncio.run(
        run_demo(speed=args.speed, chart_path=args.chart, serve=args.serve, port=args.port)
    )


def _i18n_update(settings: Settings, args) -> int:
    from bot.cli.i18n import update

    missing = update()
    for locale, ids in missing.items():
        for msgid in ids:
            print(f"{locale}: untranslated: {msgid}")
    return 1 if any(missing.values()) else 0


def _export(settings: Settings, args) -> int:
    from bot.cli import export

    try:
        start, end = export.date_range(args.period, args.start, args.end)
    except ValueError as exc:
        print(f"opsbot: export: {exc}", file=sys.stderr)
        return 2
    if not (args.out or args.with_files):
        print("opsbot: export: give --out FILE.xlsx, --with-files DIR, or both", file=sys.stderr)
        return 2
    if args.out:
        _export_workbook(settings, args, start, end)
    if args.with_files:
        _export_files(settings, args.with_files, start, end)
    return 0


def _export_workbook(settings: Settings, args, start, end) -> None:
    from bot.cli import export

    locale = args.locale or settings.team.locale
    data = asyncio.run(
        _with_engine(settings, lambda e: export.workbook(e, settings, start, end, locale))
    )
    try:
        Path(args.out).write_bytes(data)
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    sheets, rows = export.size(data)
    print(f"{args.out}: {sheets} sheets, {rows} rows ({start} – {end})")


def _export_files(settings: Settings, directory: Path, start, end) -> None:
    from telegram.error import TelegramError

    from bot.cli import export

    settings.require_token()
    try:
        done = asyncio.run(
            _with_engine(
                settings, lambda e: export.download_files(e, settings, start, end, directory)
            )
        )
    except OSError as exc:
        raise CliError(f"cannot write into {directory}: {exc.strerror or exc}") from None
    except TelegramError as exc:  # unreachable, a bad token: nothing more can be fetched
        raise CliError(f"export --with-files: Telegram: {exc}") from None
    print(f"{directory}: {len(done.saved)} files saved, {len(done.present)} already there")
    for path in done.too_big:
        print(f"not downloaded, over the Bot API's 20 MB: {path}", file=sys.stderr)
    for path in done.gone:
        print(f"not downloaded, Telegram no longer has it: {path}", file=sys.stderr)
