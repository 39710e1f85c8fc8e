"""/channel: the channel resource library (filled in by the library work)."""


def register(app) -> None:
    """Register /channel handlers."""
