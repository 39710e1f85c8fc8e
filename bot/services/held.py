"""What an update's first statement read about its sender besides their row — their open prompt
and their draft — kept for the rest of the transaction until something writes either.

Every typed message asks "is a prompt open, is a form being filled?" and every form button
reads the draft; reading both with the sender (services/staff.sender) saves those statements
(issue 20: identify the person once, no re-reading of what the transaction already read). The
answer held is dropped as soon as a flush or a bulk statement adds or removes a row of that
kind, so a reader never sees an answer older than the transaction's own writes.
"""

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session

from bot.models import Draft, Prompt

HELD = (Prompt, Draft)
_ABSENT = object()  # read with the sender: there was none


def keep(session: Session, model: type, staff_id: int, found: Any | None) -> None:
    """Hold what the sender's statement found of `model` for `staff_id` (None: nothing)."""
    session.info[(model, staff_id)] = _ABSENT if found is None else found


def recall(session: Session, model: type, staff_id: int) -> tuple[bool, Any | None]:
    """(True, the row or None) when held and still true; (False, None): read it."""
    held = session.info.get((model, staff_id))
    if held is None:
        return False, None
    if held is _ABSENT:
        if any(isinstance(obj, model) for obj in session.new):  # added, not flushed yet
            return False, None
        return True, None
    if not inspect(held).persistent:  # deleted or expunged since
        return False, None
    return True, held


def _forget(session: Session, models: set[type]) -> None:
    for key in [k for k in session.info if isinstance(k, tuple) and k[0] in models]:
        del session.info[key]


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: Any) -> None:
    # Objects changed in place stay true (they are the objects held); a row added or deleted
    # makes "there was none" or "this one" stale.
    touched = {type(obj) for obj in (*session.new, *session.deleted)} & set(HELD)
    if touched:
        _forget(session, touched)


@event.listens_for(Session, "do_orm_execute")
def _on_bulk(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    touched = {m.class_ for m in state.all_mappers} & set(HELD)
    if touched:
        _forget(state.session, touched)
