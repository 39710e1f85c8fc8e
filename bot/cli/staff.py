"""`opsbot staff …`: manage staff from the shell (for the first director, or scripts)."""

import argparse

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.migrate import upgrade
from bot.services import staff as staff_service
from bot.services import team
from bot.services.roles import RolesConfig
from bot.services.staff import Person, StaffError

CLI_ACTOR = None  # audit entries from the shell have no Telegram actor


async def run_staff_command(settings: Settings, args: argparse.Namespace) -> str:
    """Run one staff subcommand and return what to print."""
    engine = make_engine(settings.database.url)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            await team.ensure(session, settings.team)
            return await _dispatch(session, settings, args)
    except StaffError as exc:
        raise ValueError(_explain(exc.reason)) from None
    finally:
        await engine.dispose()


async def _dispatch(session, settings: Settings, args) -> str:
    if args.staff == "list":
        return _table(await staff_service.list_all(session))
    if args.staff == "add":
        _check_roles(args.role, settings.roles)
        person = Person(
            args.telegram_id, args.name, args.username, args.locale or settings.team.locale
        )
        staff = await staff_service.add(session, person, args.role, CLI_ACTOR, settings.roles)
        return f"added {staff.display_name} ({staff.telegram_id}): {', '.join(sorted(args.role))}"
    staff = await staff_service.by_telegram_id(session, args.telegram_id)
    if staff is None:
        raise ValueError(f"no staff with Telegram id {args.telegram_id} (see: opsbot staff list)")
    if args.staff == "set-role":
        _check_roles(args.roles, settings.roles)
        await staff_service.set_roles(session, staff, args.roles, CLI_ACTOR, settings.roles)
        return f"{staff.display_name}: {', '.join(sorted(args.roles))}"
    await staff_service.deactivate(session, staff, CLI_ACTOR)
    return f"deactivated {staff.display_name}"


def _check_roles(roles: list[str], known: RolesConfig) -> None:
    unknown = [r for r in roles if not known.known(r)]
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r}; roles are: {', '.join(known.keys)}")


def _table(people) -> str:
    if not people:
        return "no staff yet (add one: opsbot staff add TELEGRAM_ID --name NAME --role director)"
    rows = [
        f"{s.telegram_id:>12}  {'active' if s.active else 'off':6}  {s.display_name}"
        f"  [{', '.join(sorted(s.role_names))}]"
        for s in people
    ]
    return "\n".join(rows)


def _explain(reason: str) -> str:
    return {
        "last_director": "the team needs an active director; make someone else director first",
        "no_roles": "give at least one role",
        "already_inactive": "already deactivated",
    }.get(reason, reason)
