"""A person's own words for a form's field (`拉新` for registrations), learnt when they correct
what the sentence reader understood, read back into it, shown to them and removable."""

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.models import PersonalSynonym

PHRASE_MAX = 64  # the column's width
PER_PERSON_MAX = 200  # more than anyone learns by hand; bounds what a reading compiles


async def mine(session: AsyncSession, staff_id: int) -> list[PersonalSynonym]:
    """Every word a person taught the reader, by form then word."""
    rows = await session.scalars(
        select(PersonalSynonym)
        .where(PersonalSynonym.staff_id == staff_id)
        .order_by(PersonalSynonym.form_key, PersonalSynonym.phrase)
    )
    return list(rows)


async def for_form(session: AsyncSession, staff_id: int, form_key: str) -> dict[str, str]:
    """phrase -> field: what the reader takes as this person's words for `form_key`."""
    rows = await session.execute(_FOR_FORM, {"staff_id": staff_id, "form_key": form_key})
    return {phrase: field for phrase, field in rows}


# Built once: every report in words reads the person's words (see staff._BY_TELEGRAM_ID).
_FOR_FORM = (
    select(PersonalSynonym.phrase, PersonalSynonym.field)
    .where(
        PersonalSynonym.staff_id == bindparam("staff_id"),
        PersonalSynonym.form_key == bindparam("form_key"),
    )
    .limit(PER_PERSON_MAX)
)


async def learn(
    session: AsyncSession, staff_id: int, form_key: str, field: str, phrase: str
) -> bool:
    """Remember that `phrase` means `field` for this person; True when it is new. A phrase
    already meaning another field is moved (the latest correction is what they mean)."""
    phrase = " ".join(phrase.split())[:PHRASE_MAX]
    if not phrase:
        return False
    existing = await session.scalar(
        select(PersonalSynonym).where(
            PersonalSynonym.staff_id == staff_id,
            PersonalSynonym.form_key == form_key,
            PersonalSynonym.phrase == phrase,
        )
    )
    if existing is not None:
        changed = existing.field != field
        existing.field = field
        return changed
    row = PersonalSynonym(
        staff_id=staff_id, form_key=form_key, field=field, phrase=phrase, created_at=clock.now()
    )
    try:
        async with session.begin_nested():  # the same correction twice at once: one row
            session.add(row)
    except IntegrityError:
        return False
    return True


async def remove(session: AsyncSession, staff_id: int, synonym_id: int) -> PersonalSynonym | None:
    """Forget one of a person's own words (only their own); the removed row, or None."""
    row = await session.scalar(
        select(PersonalSynonym).where(
            PersonalSynonym.id == synonym_id, PersonalSynonym.staff_id == staff_id
        )
    )
    if row is not None:
        await session.execute(delete(PersonalSynonym).where(PersonalSynonym.id == row.id))
    return row
