"""Activity plans on Telegram: the plan's desk of `act:v1` card buttons (handled by the shared
press handlers of handlers/approvals.py) and /activity list, my plans."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot import clock
from bot.calendar import local_date
from bot.i18n import t
from bot.models import ACTIVITY_FORM, Prompt, Staff
from bot.services import activities, approvals
from bot.services.activities import ActivityError
from bot.state import BotContext
from bot.states import Decision, PlanStatus
from handlers import approvals as shared
from handlers.access import staff_only
from handlers.reply import reply, rows_of

# /activity list shows the newest plans only, so the message stays far under 4,096 characters.
LIST_MAX = 20
# The engine's decision -> a plan's (activities.decide and its reason prompt speak these).
FROM_ENGINE = {engine: plan for plan, engine in activities.TO_ENGINE.items()}


# ---- the plan's desk: the activities facade keeps a plan's own checks and refusals ------------


def _today(context: BotContext):
    return local_date(clock.now(), context.settings.team.tz)


async def _decide(session, plan_id: int, version: int, me: Staff, decision, context):
    return await activities.decide(
        session, plan_id, version, me, FROM_ENGINE[decision], today=_today(context)
    )


async def _ask(session, plan_id: int, version: int, me: Staff, decision, context):
    # A plan's Reject / Request changes always ask why (its own prompt kind, test_prompts).
    plan = await activities.get(session, plan_id)
    today = _today(context)
    await activities.start_reason(session, me, plan_id, version, FROM_ENGINE[decision], today=today)
    return plan, True


async def _give(session, me: Staff, prompt: Prompt, text: str, context):
    return await activities.give_reason(session, me, text, today=_today(context))


async def _waiting(session, plan_id: int, me: Staff, context):
    plan = await activities.get(session, plan_id)
    if plan is None or plan.status != PlanStatus.PENDING:
        raise ActivityError("not_pending")
    return plan


async def _listing(session: AsyncSession, me: Staff) -> tuple:
    plans = (await activities.mine(session, me.id))[:LIST_MAX]
    return "activity_list.html.j2", _withdraw_buttons(plans, me), {"plans": plans}


PLANS = shared.Desk(
    words=approvals.PRESENTERS[ACTIVITY_FORM],
    presses=(
        (activities.APPROVE, Decision.APPROVE, True),
        (activities.REJECT, Decision.REJECT, False),
        (activities.REQUEST_CHANGES, Decision.CHANGES, False),
    ),
    show_card=activities.SHOW_CARD,
    withdraw=activities.WITHDRAW,
    decide=_decide,
    ask=_ask,
    give=_give,
    take_back=activities.withdraw,
    waiting=_waiting,
    listing=_listing,
    show_roles=("director",),  # a plan's card again: directors only, as always
)


async def take_reason(
    update: Update, context: BotContext, session: AsyncSession, director: Staff, prompt: Prompt
) -> None:
    """The reason for a Reject / Request changes (handlers/text.py routes it here): decide."""
    await shared.answer_reason(PLANS, update, context, session, director, prompt)


# ---- /activity list ---------------------------------------------------------------------------


@staff_only()
async def list_mine(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """/activity list: my plans and their states; the pending ones can be withdrawn."""
    await reply_my_plans(update, session, me)


async def reply_my_plans(update: Update, session: AsyncSession, me: Staff) -> None:
    """Send my plans (newest first) with withdraw buttons on the pending ones."""
    template, buttons, ctx = await _listing(session, me)
    await reply(update, me.locale, template, buttons, **ctx)


def _withdraw_buttons(plans, me: Staff):
    pending = [p for p in plans if p.status == PlanStatus.PENDING]
    return rows_of(
        [
            (t(me.locale, "↩️ Withdraw #%(id)s", id=p.id), activities.WITHDRAW.pack(p.id))
            for p in pending
        ]
    )


def register(app) -> None:
    """A plan's card buttons and withdraw buttons, through the shared press handlers (a typed
    reason: handlers/text.py; /pending lists plans with every other kind: handlers/approvals.py).
    """
    # Ids of at most 18 ASCII digits: longer (forged) ones overflow BIGINT; stale_button takes them.
    shared.register_desk(app, PLANS)
