"""The channel pipeline as a funnel: how many channels stand at each stage, filtered."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Channel
from bot.services.channels import STAGES

# The dashboard lists at most this many channels under the funnel (most recently moved first).
LISTED = 50


@dataclass(frozen=True)
class Filter:
    """Which channels: a region, an industry, one owner's (None: any)."""

    region: str | None = None
    industry: str | None = None
    owner_id: int | None = None

    def where(self) -> list:
        """The SQL conditions of this filter."""
        found = []
        if self.region:
            found.append(Channel.region == self.region)
        if self.industry:
            found.append(Channel.industry == self.industry)
        if self.owner_id is not None:
            found.append(Channel.owner_id == self.owner_id)
        return found


async def funnel(session: AsyncSession, which: Filter) -> dict[str, int]:
    """Channels per stage, every stage present in pipeline order (zeros included)."""
    rows = await session.execute(
        select(Channel.stage, func.count()).where(*which.where()).group_by(Channel.stage)
    )
    counts = dict.fromkeys(STAGES, 0)
    counts.update({stage: int(n) for stage, n in rows})
    return counts


async def listed(session: AsyncSession, which: Filter, limit: int = LISTED) -> list[Channel]:
    """The filtered channels, most recently updated first."""
    query = (
        select(Channel)
        .where(*which.where())
        .order_by(Channel.updated_at.desc(), Channel.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(query))
