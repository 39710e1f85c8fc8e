"""The states a stored row moves through, one StrEnum per table (stored as their strings).

The columns stay VARCHAR (bot/models.py): a StrEnum member is its string, so it compares equal to
the stored value, binds as it in SQL, and no migration or native database enum is needed. What
the enums add is one spelling of each state, checked by ruff/pyright instead of by a test run.
"""

from enum import StrEnum


class PlanStatus(StrEnum):
    """An activity plan (docs/activities.md has the state machine)."""

    PENDING = "pending"  # waiting for a director
    CHANGES_REQUESTED = "changes_requested"  # sent back: the proposer resubmits (-> pending)
    APPROVED = "approved"  # to start on its start date
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # by the proposer, while pending
    RUNNING = "running"
    COMPLETED = "completed"  # its results are filed


# Still to be decided, started or completed (a person leaving hands these over).
UNFINISHED = (
    PlanStatus.PENDING,
    PlanStatus.CHANGES_REQUESTED,
    PlanStatus.APPROVED,
    PlanStatus.RUNNING,
)


class ObligationStatus(StrEnum):
    """One person's one report for one period."""

    OPEN = "open"
    FILED = "filed"  # on time
    LATE = "late"  # filed after it was due
    MISSED = "missed"  # closed unfiled
    EXCUSED = "excused"  # the person left (handover)


# A report was filed for it (on time or not).
FILED = frozenset({ObligationStatus.FILED, ObligationStatus.LATE})


class OutboxStatus(StrEnum):
    """A queued message."""

    PENDING = "pending"  # to send at next_attempt_at
    SENDING = "sending"  # claimed by a sender until lease_until
    SENT = "sent"
    FAILED = "failed"  # Telegram refused it for good
    CANCELLED = "cancelled"  # no longer wanted when its turn came


# Not yet sent and still to be tried.
UNSENT = (OutboxStatus.PENDING, OutboxStatus.SENDING)


class JoinStatus(StrEnum):
    """A stranger's request to join."""

    CHOOSING = "choosing"  # picking a role
    PENDING = "pending"  # waiting for a director
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class TaskStatus(StrEnum):
    """A task a director (or anyone, for themselves) assigned (bot/services/tasks.py)."""

    DRAFT = "draft"  # understood, shown to the assigner, not sent yet
    OPEN = "open"  # with the assignee
    POSTPONE_ASKED = "postpone_asked"  # the assignee asked for a later deadline (-> open)
    DONE = "done"  # the assignee says it is done; the assigner accepts (-> accepted) or reopens
    ACCEPTED = "accepted"  # closed: done and accepted
    RETURNED = "returned"  # closed: the assignee handed it back (not theirs, say), with a reason
    CANCELLED = "cancelled"  # closed: the assigner did not send it, or withdrew it


class SeriesStatus(StrEnum):
    """A recurring task (bot/services/task_series.py)."""

    DRAFT = "draft"  # understood, shown to the assigner, not started yet
    ACTIVE = "active"  # creates a task on each matching working day
    STOPPED = "stopped"  # no more occurrences (the ones created stay)
    CANCELLED = "cancelled"  # never started


# Still with the assignee (lists, and later reminders, show these).
TASK_OPEN = (TaskStatus.OPEN, TaskStatus.POSTPONE_ASKED)


class RequestStatus(StrEnum):
    """A filing of a form that is approved in steps (bot/services/approvals.py)."""

    PENDING = "pending"  # with the deciders of its current step
    CHANGES_REQUESTED = "changes_requested"  # sent back: the proposer resubmits (-> pending)
    REJECTED = "rejected"
    APPROVED = "approved"  # every step that applies approved it
    WITHDRAWN = "withdrawn"  # by the proposer, while pending
    NOTED = "noted"  # a suggestion read and kept on file, not adopted (style = "suggestion")
    # With [forms.approval.after] start_on: from its day (the tick), and once its results are
    # filed — an activity plan's life after approval (decision 65).
    RUNNING = "running"
    COMPLETED = "completed"


# Approved, whatever happened since: what follow-ups and budget charges stay alive for.
GRANTED = (RequestStatus.APPROVED, RequestStatus.RUNNING, RequestStatus.COMPLETED)


class Decision(StrEnum):
    """One decider's answer at one step of an approval."""

    APPROVE = "approve"  # a suggestion: adopted (采纳)
    REJECT = "reject"  # a suggestion: declined (不采纳)
    CHANGES = "changes"
    NOTE = "note"  # a suggestion only: read and kept on file (已阅存档)
