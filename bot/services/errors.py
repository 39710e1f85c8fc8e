"""The one shape of "a rule said no" that every service raises."""

from typing import Any


class ServiceError(Exception):
    """`reason` is a stable code that picks the message; `details` fill it in."""

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details

    @property
    def params(self) -> dict[str, Any]:
        """The same as `details` (some templates call them params)."""
        return self.details
