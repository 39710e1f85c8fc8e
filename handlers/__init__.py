"""Thin Telegram layer: parse the update, authorise the sender, call a service, render, reply."""

from telegram.ext import Application

from handlers import (
    activities,
    approvals,
    basics,
    budgets,
    channels,
    errors,
    feedback,
    files,
    fulltext,
    groups,
    invite,
    join,
    kpi_card,
    kpi_export,
    kpi_target,
    lang,
    leave,
    reports,
    staff,
    start,
    synonyms,
    tasks,
    team,
    text,
    updates,
)


def register(app: Application) -> None:
    """Register every handler; order matters, so it is spelled out here."""
    # Group -1: drop redelivered updates before anything can act twice.
    updates.register(app)
    # Group 0, first match wins. Groups before private chats: a bot added to a group, /bind, and
    # supergroup migration; nothing else in groups reaches a handler.
    groups.register(app)
    # Joining: /start (request or invite) and the role buttons; then directors' join cards.
    start.register(app)
    join.register(app)
    # Directors' tools.
    invite.register(app)
    staff.register(app)
    team.register(app)
    # KPIs: /kpi cards, /target and its buttons, /export.
    kpi_card.register(app)
    kpi_target.register(app)
    kpi_export.register(app)
    # The channel resource library.
    channels.register(app)
    # Everyone's basics.
    lang.register(app)
    leave.register(app)
    basics.register(app)
    # Feedback: /feedback and forwarded messages (the text handler below leaves forwards alone).
    feedback.register(app)
    # "Whole text" buttons under report, draft and plan cards (private chats and the group).
    fulltext.register(app)
    # Activity plans: directors' cards, /pending, the proposer's buttons.
    activities.register(app)
    # Approvals of any form: deciders' cards, /pending (every kind waiting for me) and /mine.
    approvals.register(app)
    # /budget: every budget pool (activities, expenses, advertising …).
    budgets.register(app)
    # Tasks: /assign and its confirmation card, the assignee's and assigner's buttons, /tasks.
    tasks.register(app)
    # Reports: one command per configured form, their buttons, /my.
    reports.register(app)
    # /synonyms: a person's own words for the sentence reader, and forgetting them.
    synonyms.register(app)
    # Photos and documents in private chats: a form's file question, else what files are for.
    files.register(app)
    # Every typed private message, once: the sender's open prompt or form decides whether it is
    # a report's answer, a director's reason or a target value (services/prompts.py), else the
    # polite "no question is open". No other handler takes typed text.
    text.register(app)
    # Last: unknown commands and any other message in private chats; unknown buttons.
    basics.register_fallbacks(app)
    app.add_error_handler(errors.on_error)
