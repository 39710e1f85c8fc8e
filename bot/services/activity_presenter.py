"""Activity plans as the approval engine words them: the activity_* cards with act:v1 buttons,
the decided notice, the group's announcement and the activity.* audit entries (decision 65)."""

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ApprovalRequest, Staff
from bot.outbox import Buttons, enqueue
from bot.render import render
from bot.services import activities, approvals, audit, team
from bot.services.budgets import yuan
from bot.states import Decision

FORM_KEY = "activity_plan"
# The engine's decision words -> a plan's status words (its audit actions say these).
WORDS = {
    Decision.APPROVE: "approved",
    Decision.REJECT: "rejected",
    Decision.CHANGES: "changes_requested",
}


class PlanPresenter(approvals.Presenter):
    """An activity plan reads as it always did, whichever code decides it."""

    # reminders.approval_nags reminds each director once of all their plans (pinned wording),
    # and activities.set_deadlines dates a plan from [approvals] decision_working_days.
    reminds = False
    dated = False

    def card_key(self, request_id: int, version: int, telegram_id: int | str) -> str:
        return f"act:{request_id}:v{version}:card:{telegram_id}"

    def about(self, request: ApprovalRequest) -> str:
        # The sender's "act" check (activities.card_still_wanted).
        return f"act:{request.id}:{request.version}"

    async def card(self, session: AsyncSession, request: ApprovalRequest, locale: str) -> str:
        before = await approvals.previous_answers(session, request)
        return await activities.card_text(session, request, locale, before=before)

    def start_day(self, request: ApprovalRequest) -> date | None:
        return request.start_date  # its own column (a plan built by hand has no answers)

    def buttons(self, request: ApprovalRequest, locale: str) -> Buttons:
        return activities.card_buttons(request, locale)

    def files(self, request: ApprovalRequest) -> list[dict[str, Any]]:
        return []

    async def closed_card(
        self, session: AsyncSession, request: ApprovalRequest, locale: str, *, closed_by: str,
        outcome: str, step: int,
    ) -> str:  # fmt: skip
        return await activities.card_text(session, request, locale, decider=closed_by)

    def closed_key(self, key: str, request: ApprovalRequest) -> str:
        return f"{key}:{request.status}"

    async def decided(
        self, session: AsyncSession, request: ApprovalRequest, person: Staff, decision: str,
        comment: str | None,
    ) -> None:  # fmt: skip
        # A plan keeps who decided it and why on its own row (its card, /activity, the export).
        request.decided_by, request.decision_reason = person.id, comment
        await session.flush()

    async def tell_proposer(
        self, session: AsyncSession, request: ApprovalRequest, person: Staff, decision: str,
        comment: str | None,
    ) -> None:  # fmt: skip
        proposer = await session.get(Staff, request.proposer_id)
        if person.id == proposer.id:  # the only director approved it: their card says so
            await enqueue(
                session,
                self.card_key(request.id, request.version, proposer.telegram_id),
                proposer.telegram_id,
                await activities.card_text(
                    session, request, proposer.locale, decider=proposer.display_name
                ),
            )
            return
        await enqueue(
            session,
            f"act:{request.id}:v{request.version}:decided",
            proposer.telegram_id,
            render(
                "activity_decided.html.j2", proposer.locale, plan=request,
                by=person.display_name, reason=comment,
            ),
        )  # fmt: skip

    async def announce(
        self, session: AsyncSession, request: ApprovalRequest, proposer: Staff, where: str
    ) -> None:
        group = await team.get(session)
        if where != "group" or group.group_chat_id is None:
            return
        await enqueue(
            session,
            f"act:{request.id}:announce",
            group.group_chat_id,
            render(
                "activity_announce.html.j2", group.locale, plan=request,
                proposer=proposer.display_name, budget=yuan(request.budget_fen),
            ),
        )  # fmt: skip

    async def audit(
        self, session: AsyncSession, actor: int | None, event: str, request: ApprovalRequest,
        **details: Any,
    ) -> None:  # fmt: skip
        kept: dict[str, Any] = {}
        if event in WORDS:
            kept = {"reason": details.get("comment"), "self_approved": details["self_approved"]}
        if event not in ("running", "completed"):
            kept = {"version": request.version, **kept}
        target = f"activity:{request.id}"
        await audit.record(session, actor, f"activity.{WORDS.get(event, event)}", target, **kept)


approvals.PRESENTERS[FORM_KEY] = PlanPresenter()
