"""Test-time guard: a Telegram call made while its task holds a database transaction open fails.

Replies wait for their chat (up to REPLY_WAIT) and on SQLite an open transaction holds the one
write lock, so no Bot API call may happen inside one (decision 45). Every ORM session's
transaction is tracked per asyncio task from its start (begin(), or the first use) to its end;
`BaseRequest.post`, the door every Bot API call goes through, checks the calling task
(tests/conftest.py puts the check there for every test).
"""

import asyncio

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

# Session (by id) -> the task that began its transaction. A session's transaction can end in
# another task: AsyncSession.close() runs shielded, in a task of its own.
_open: dict[int, asyncio.Task] = {}
# Calls caught; the fixture fails the test on any, even one an error handler swallowed.
violations: list[str] = []


class SentInsideTransaction(AssertionError):
    """A Bot API call was made while the calling task had a database transaction open."""


def _task() -> asyncio.Task | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop: a synchronous session (migrations, tools)
        return None


@event.listens_for(Session, "after_transaction_create")
def _began(session: Session, transaction: SessionTransaction) -> None:
    task = _task()
    if transaction.parent is None and task is not None:
        _open[id(session)] = task


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        _open.pop(id(session), None)


def transaction_open() -> bool:
    """Whether the current task holds a database transaction open."""
    task = _task()
    return task is not None and task in _open.values()


def guarded(post):
    """BaseRequest.post that refuses to run inside a transaction."""

    async def post_outside_transactions(self, url: str, *args, **kwargs):
        if transaction_open():
            method = url.rsplit("/", 1)[-1]
            violations.append(method)
            raise SentInsideTransaction(f"{method} called while a database transaction is open")
        return await post(self, url, *args, **kwargs)

    return post_outside_transactions
