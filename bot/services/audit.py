"""The append-only audit log."""

from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.models import AuditLog


async def record(
    session: AsyncSession, actor: int | None, action: str, target: str | None = None, **details
) -> None:
    """Append one entry: who (Telegram id) did what to which object, with details."""
    session.add(
        AuditLog(
            at=clock.now(), actor_telegram_id=actor, action=action, target=target, details=details
        )
    )
