"""SQLAlchemy 2.0 typed ORM models: the whole state of the bot."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    case,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, synonym

from bot.db import UTCDateTime
from bot.states import (
    JoinStatus,
    ObligationStatus,
    OutboxStatus,
    RequestStatus,
    TaskStatus,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Telegram ids exceed 32 bits; SQLite only auto-increments an INTEGER primary key.
    type_annotation_map = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        int: BigInteger().with_variant(Integer(), "sqlite"),
    }


class Staff(Base):
    """A member of the team: a Telegram user with one or more roles."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    telegram_id: Mapped[int] = mapped_column(unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    active: Mapped[bool] = mapped_column(default=True)
    joined_at: Mapped[datetime]
    # Set when Telegram refuses to deliver to them (blocked the bot, deleted account); cleared
    # when they write to the bot again.
    unreachable_since: Mapped[datetime | None]
    roles: Mapped[list["StaffRole"]] = relationship(
        back_populates="staff", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    def has_role(self, role: str) -> bool:
        return role in self.role_names


class StaffRole(Base):
    """One role held by one person (a person may hold several)."""

    __tablename__ = "staff_roles"
    __table_args__ = (UniqueConstraint("staff_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    staff: Mapped[Staff] = relationship(back_populates="roles")


class JoinRequest(Base):
    """An unknown user's request to join with a role; decided once by a director."""

    __tablename__ = "join_requests"
    __table_args__ = (
        Index("ix_join_requests_telegram_id_created_at", "telegram_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    telegram_id: Mapped[int]
    display_name: Mapped[str] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    role: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=JoinStatus.CHOOSING)
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class Invite(Base):
    """A single-use, expiring deep link that joins a person with a role without a request."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None]


class AuditLog(Base):
    """Append-only record of every decision and every refused attempt."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_telegram_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Team(Base):
    """The one team this deployment serves, with its bound group."""

    __tablename__ = "team"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    group_chat_id: Mapped[int | None]
    group_title: Mapped[str | None] = mapped_column(String(256))
    bound_by: Mapped[int | None]
    bound_at: Mapped[datetime | None]
    fallback_notified_years: Mapped[str] = mapped_column(String(64), default="")
    # The language of messages to the group (from config, refreshed at every start).
    locale: Mapped[str] = mapped_column(String(8), default="zh", server_default="zh")


class RosterVersion(Base):
    """One row whose number database triggers raise on every change that can make someone owe a
    report or need a menu button (a person added, reactivated or speaking another language, a
    role, a leave, an obligation row removed): the tick looks for people without theirs only
    when it moved (bot/services/roster_version.py; decision 67, fifth round)."""

    __tablename__ = "roster_version"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(default=0)


class ProcessedUpdate(Base):
    """Telegram update ids already handled, so a redelivered update has no second effect."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(index=True)


class Outbox(Base):
    """A message the bot sends on its own initiative, queued in the transaction that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        # Keys by prefix on PostgreSQL (bot/outbox.py keys_between; SQLite's unique index serves).
        Index("ix_outbox_dedup_key_c", text('dedup_key COLLATE "C"')).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    chat_id: Mapped[int]
    method: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    ref_key: Mapped[str | None] = mapped_column(String(200))
    # What the message is about ("join:12"): the sender drops it when that no longer wants it.
    about: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None]
    sent_at: Mapped[datetime | None]


class Lease(Base):
    """A named lease held by one process at a time (e.g. the outbox sender)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class Obligation(Base):
    """One person owes one form for one period: the single source of "late" and "missing"."""

    __tablename__ = "obligations"
    __table_args__ = (
        UniqueConstraint("staff_id", "form_key", "period_key"),
        Index("ix_obligations_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    form_key: Mapped[str] = mapped_column(String(32))
    period_key: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    # open -> filed (on time) | late (filed after due) | missed (closed unfiled) | excused
    status: Mapped[str] = mapped_column(String(16), default=ObligationStatus.OPEN)
    reminder_step: Mapped[int] = mapped_column(default=0)
    filed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Report(Base):
    """A filed report: one per person, form and period; edits add versions."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("staff_id", "form_key", "period_key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    form_key: Mapped[str] = mapped_column(String(32))
    period_key: Mapped[str] = mapped_column(String(16))
    obligation_id: Mapped[int | None] = mapped_column(ForeignKey("obligations.id"))
    answers: Mapped[dict[str, Any]]
    # The form as it was when filed (labels, types), so config changes never break old reports.
    fields: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(default=1)
    late: Mapped[bool] = mapped_column(default=False)
    filed_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ReportVersion(Base):
    """Every submitted version of a report, oldest first (edits keep what came before)."""

    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("report_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    version: Mapped[int]
    answers: Mapped[dict[str, Any]]
    filed_at: Mapped[datetime]


class Metric(Base):
    """A numeric answer of a report, as KPIs read it (money in fen)."""

    __tablename__ = "metrics"
    __table_args__ = (
        UniqueConstraint("report_id", "field_key"),
        Index("ix_metrics_form_key_field_key_period_key", "form_key", "field_key", "period_key"),
        # KPIs read a period's rows by date range: cost grows with the period, not the history.
        Index("ix_metrics_by_period_start", "form_key", "field_key", "period_start", "staff_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    form_key: Mapped[str] = mapped_column(String(32))
    field_key: Mapped[str] = mapped_column(String(32))
    period_key: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date]
    value: Mapped[Decimal] = mapped_column(Numeric(20, 4))


class Draft(Base):
    """A half-filled form: updated in the same transaction as each answer, so nothing is lost."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # One form at a time per person: a second /daily continues the first.
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), unique=True)
    form_key: Mapped[str] = mapped_column(String(32))
    period_key: Mapped[str] = mapped_column(String(16))
    obligation_id: Mapped[int | None] = mapped_column(ForeignKey("obligations.id"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    answers: Mapped[dict[str, Any]]
    # Where the person is: "ask" (cursor = field path), "review", "pick" (choosing a field to edit)
    mode: Mapped[str] = mapped_column(String(16), default="ask")
    cursor: Mapped[str] = mapped_column(String(64), default="0")
    # Extra state of the current question (multi-select so far, list page, pending new channel).
    scratch: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Bumped on every change; buttons carry it, so a press on an old keyboard is recognised.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Channel(Base):
    """An enterprise in the channel resource library (渠道资源库)."""

    __tablename__ = "channels"
    __table_args__ = (Index("ix_channels_norm_name_region", "norm_name", "region"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    norm_name: Mapped[str] = mapped_column(String(128))
    industry: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(32))
    contact: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    # lead -> contacted -> negotiating -> signed -> live, or lost
    stage: Mapped[str] = mapped_column(String(16), default="lead")
    difficulty: Mapped[str | None] = mapped_column(String(8))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ChannelStageChange(Base):
    """History of a channel's stage: who moved it, when, on which team-local day."""

    __tablename__ = "channel_stage_changes"
    __table_args__ = (Index("ix_channel_stage_changes_by_day", "by_staff_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime]
    day: Mapped[date]


class Feedback(Base):
    """One piece of user feedback, captured any time; the weekly summary is built from these."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_week_key_norm_text", "week_key", "norm_text"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    # ISO week (team time zone) it was captured in, e.g. "2026-W48".
    week_key: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    # For spotting repeats: NFKC, casefolded, punctuation and spaces removed.
    norm_text: Mapped[str] = mapped_column(String(255))
    # bug | feature | experience | pricing | content | other
    category: Mapped[str] = mapped_column(String(16), default="other")
    # opinion_leader | heavy | light | new (DOMAIN.md: users are segmented)
    segment: Mapped[str | None] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(8), default="medium")  # low | medium | high
    # How many users raised it; a repeat counts up instead of adding a row.
    count: Mapped[int] = mapped_column(default=1)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default="command")  # command | forward
    forwarded_from: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Prompt(Base):
    """What the bot waits for from one person (at most one): a reason, a value, a pick.

    A form being filled is not a row here: its draft is the question (see services/prompts.py).
    """

    __tablename__ = "prompts"
    # Ids ride in buttons: SQLite must never hand a closed prompt's id to a new one.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(24))  # services.prompts.Kind, stored as a string
    # What it is about ("activity:12"), so it can be closed when that ends; None: nothing.
    about: Mapped[str | None] = mapped_column(String(64), index=True)
    # What the answer needs besides the text (a plan's version, a KPI and period, a name).
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The message that asked, so a reply to it picks this prompt.
    message_id: Mapped[int | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]  # None: open until answered, cancelled or replaced


class Budget(Base):
    """A budget pool's amount for one month or quarter, set by a director (services/budgets)."""

    __tablename__ = "budgets"

    # A pool's key from [[budgets.pools]]: activities, expenses, advertising …
    pool: Mapped[str] = mapped_column(String(20), primary_key=True)
    period_key: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount_fen: Mapped[int]
    set_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    set_at: Mapped[datetime]


class Leave(Base):
    """A person away from work for some days: owes no reports; a director's deputy decides."""

    __tablename__ = "leaves"
    __table_args__ = (Index("ix_leaves_staff_id_end_date", "staff_id", "end_date"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    start_date: Mapped[date]
    end_date: Mapped[date]
    # For a director: who receives and decides approval cards meanwhile.
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]


class Target(Base):
    """A director's target for one KPI, one period, one person (or the team when staff is None)."""

    __tablename__ = "targets"
    __table_args__ = (Index("ix_targets_kpi_key_period_key", "kpi_key", "period_key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kpi_key: Mapped[str] = mapped_column(String(32))
    period_key: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    value: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    set_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    set_at: Mapped[datetime]


class Task(Base):
    """Work one person assigned to another (or to themselves), with a deadline (交办事项)."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_assignee_id_status", "assignee_id", "status"),
        Index("ix_tasks_assigner_id_status", "assigner_id", "status"),
        # Ids ride in buttons: SQLite must never hand a deleted task's id to a new one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    assigner_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    title: Mapped[str] = mapped_column(String(200))
    deadline: Mapped[datetime]
    # draft -> open <-> postpone_asked; open -> done -> accepted | open (reopened);
    # open -> returned; draft -> cancelled. bot/states.py TaskStatus.
    status: Mapped[str] = mapped_column(String(24), default=TaskStatus.DRAFT)
    # Bumped by every step; buttons carry it, so a press on an older card changes nothing.
    version: Mapped[int] = mapped_column(default=1)
    # While a postponement is asked: the deadline asked for and why.
    asked_deadline: Mapped[datetime | None]
    # The assignee's note when marking it done; the last reason (returned, reopened, refused).
    done_note: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # One occurrence of a recurring task (/assign … 每周一 10:00), else None.
    series_id: Mapped[int | None] = mapped_column(ForeignKey("task_series.id"), index=True)


class TaskSeries(Base):
    """A recurring task: one task per matching working day until stopped (bot/services/
    task_series.py)."""

    __tablename__ = "task_series"
    __table_args__ = (
        Index("ix_task_series_status_next_on", "status", "next_on"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    assigner_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    title: Mapped[str] = mapped_column(String(200))
    # {"every": "workday" | "week" | "month", "days": [...], "time": "HH:MM"}
    rule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # draft -> active -> stopped; draft -> cancelled. bot/states.py SeriesStatus.
    status: Mapped[str] = mapped_column(String(24))
    version: Mapped[int] = mapped_column(default=1)
    # The first day not yet looked at: the tick creates the occurrence on it when it is due.
    next_on: Mapped[date]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TaskEvent(Base):
    """Every step of a task, in order: who did what, at which version (history, and later the
    on-time record the tasks KPI reads)."""

    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))
    version: Mapped[int]  # the task's version after the step
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


ACTIVITY_FORM = "activity_plan"


class ApprovalRequest(Base):
    """A filing of a form configured with [forms.approval], decided step by step."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        Index("ix_approval_requests_status", "status"),
        Index("ix_approval_requests_proposer_id", "proposer_id"),
        # Ids ride in buttons: SQLite must never hand a deleted request's id to a new one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    form_key: Mapped[str] = mapped_column(String(32))
    proposer_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    title: Mapped[str] = mapped_column(String(200))
    answers: Mapped[dict[str, Any]]  # the current round's
    # The form's labels and the steps that apply to this round, kept with the request so its
    # card reads the same when the configuration has moved on.
    fields: Mapped[dict[str, Any]]
    steps: Mapped[dict[str, Any]]
    # pending -> approved | rejected | changes_requested (-> pending, a new round) | withdrawn.
    status: Mapped[str] = mapped_column(String(24), default=RequestStatus.PENDING)
    step: Mapped[int] = mapped_column(default=0)  # index into `steps`
    round: Mapped[int] = mapped_column(default=1)  # bumped by every resubmission
    # Bumped whenever new cards go out (the next step opens, a new round starts); buttons carry
    # it, so a press on an older card changes nothing. A decision ends its cards by the status.
    version: Mapped[int] = mapped_column(default=1)
    submitted_at: Mapped[datetime]
    step_due_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    # An activity plan is a request with a row of its own (joined inheritance, decision 65);
    # every other form is a plain request. Loading every kind's columns with the request keeps a
    # plan read through ApprovalRequest from lazy-loading them (which asyncio cannot).
    __mapper_args__ = {
        "polymorphic_on": case((form_key == ACTIVITY_FORM, ACTIVITY_FORM), else_="request"),
        "polymorphic_identity": "request",
        "with_polymorphic": "*",
    }


class ActivityPlan(ApprovalRequest):
    """An activity (campaign) plan: an approval request of the activity_plan form, decided by a
    director, run between its dates, and reviewed; this row holds what only a plan has."""

    __tablename__ = "activity_plans"
    __mapper_args__ = {"polymorphic_identity": ACTIVITY_FORM}

    id: Mapped[int] = mapped_column(
        ForeignKey("approval_requests.id", ondelete="CASCADE"), primary_key=True
    )
    # pending -> approved | rejected | changes_requested (-> pending …) -> running -> completed;
    # or withdrawn by the proposer while pending (the request's status). docs/activities.md.
    budget_fen: Mapped[int] = mapped_column(default=0)
    start_date: Mapped[date]
    end_date: Mapped[date]
    # The budget period it is charged to: the month of its start date ("2026-12").
    budget_period: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    results: Mapped[dict[str, Any] | None]
    actual_cost_fen: Mapped[int | None]
    completed_at: Mapped[datetime | None]
    # When a director should have decided: the request's step deadline (the tick sets it).
    decide_by = synonym("step_due_at")


# The one step of a plan, as a request keeps its steps (bot/services/activity_presenter.py
# words it): the directors decide, the group hears of an approval.
ACTIVITY_STEPS: dict[str, Any] = {
    "form": {"zh": "活动方案", "en": "Activity plan"},
    "steps": [{"who": "directors", "name": {"zh": "董事", "en": "Directors"}}],
    "leads": {},
    "after": {"announce": "group"},
    "approval": {"style": "approval"},
    "budget": None,
}


@event.listens_for(ActivityPlan, "init")
def _a_plan_is_a_request(target: ActivityPlan, args: tuple, kwargs: dict[str, Any]) -> None:
    """A plan built by hand (a test, the demo) is a complete request of the activity form."""
    target.form_key = ACTIVITY_FORM
    if "steps" not in kwargs:
        target.steps = dict(ACTIVITY_STEPS)


class ApprovalDecision(Base):
    """One decision on one step of one round of a request, with its reason or comment."""

    __tablename__ = "approval_decisions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("approval_requests.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int]
    step: Mapped[int]
    decider_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class ApprovalRound(Base):
    """The answers a request was (re)submitted with, one row per round: the card's diff."""

    __tablename__ = "approval_rounds"
    __table_args__ = (UniqueConstraint("request_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id", ondelete="CASCADE"))
    round: Mapped[int]
    answers: Mapped[dict[str, Any]]
    submitted_at: Mapped[datetime]


class ActivityVersion(Base):
    """Every submitted version of a plan: its request's rounds (the card shows what changed)."""

    __table__ = ApprovalRequest.metadata.tables["approval_rounds"]
    plan_id = __table__.c.request_id
    version = __table__.c.round


class ApprovalRequestId(Base):
    """A request's id before activity plans joined the requests (migration 0018 renumbered the
    requests then): a press on a card sent before still finds its request."""

    __tablename__ = "approval_request_ids"

    old_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    new_id: Mapped[int]


class BudgetCharge(Base):
    """Money a request takes from a budget pool: held while it waits for a decision, charged once
    approved; one row per request (`about`, e.g. "req:12"), so charging twice counts once."""

    __tablename__ = "budget_charges"
    __table_args__ = (
        Index("ix_budget_charges_pool_period_key", "pool", "period_key"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    pool: Mapped[str] = mapped_column(String(20))
    period_key: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int]
    about: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    # held | charged (bot/services/budgets.py ChargeState)
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]


class ApprovalFollowup(Base):
    """What an approved request still asks of its proposer: the published link, the content's
    figures, a research's results (bot/services/approval_followups.py). One row per request and
    kind; `due_at` is set by the tick from the working calendar (None: not scheduled yet)."""

    __tablename__ = "approval_followups"
    __table_args__ = (
        UniqueConstraint("request_id", "kind"),
        Index("ix_approval_followups_status_due_at", "status", "due_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id", ondelete="CASCADE"))
    # Who owes it: the proposer, or whoever took over their work (bot/services/handover.py).
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # link | figures | results
    due_at: Mapped[datetime | None]
    # waiting -> asked -> done | cancelled (the request is no longer approved, nobody owes it)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    asked_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    answer: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]


class PersonalSynonym(Base):
    """A word one person uses for a form's field (`拉新` for registrations), learnt when they
    correct what the sentence reader understood; shown to them and removable."""

    __tablename__ = "personal_synonyms"
    __table_args__ = (
        UniqueConstraint("staff_id", "form_key", "phrase"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    form_key: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    phrase: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
