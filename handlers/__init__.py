"""Thin Telegram layer: parse the update, authorise the sender, call a service, render, reply."""

from telegram.ext import Application

from handlers import (
    activities,
    basics,
    channels,
    errors,
    feedback,
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
    team,
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
    # KPIs: /kpi cards, /target (and its typed value, before activities and reports), /export.
    kpi_card.register(app)
    kpi_target.register(app)
    kpi_export.register(app)
    # The channel resource library.
    channels.register(app)
    # Everyone's basics.
    lang.register(app)
    leave.register(app)
    basics.register(app)
    # Feedback: /feedback and forwarded messages (before reports, which take any other text).
    feedback.register(app)
    # "Whole text" buttons under report, draft and plan cards (private chats and the group).
    fulltext.register(app)
    # Reports: one command per configured form, their buttons, /my, and typed answers (after
    # every command above, before the fallbacks).
    # Activity plans: directors' cards, /pending, /budget, and a director's typed reason (before
    # reports, whose typed-answer handler takes every other text; activities hands it on).
    activities.register(app)
    reports.register(app)
    # Last: unknown commands and unexpected text in private chats.
    basics.register_fallbacks(app)
    app.add_error_handler(errors.on_error)
