"""An in-process Telegram Bot API simulator for tests, `opsbot demo` and benchmarks."""

from bot.simulator.driver import Group, Persona, SimulatorError
from bot.simulator.server import (
    ApiCall,
    ApiError,
    Button,
    CallbackAnswer,
    SimFile,
    SimMessage,
    TelegramSimulator,
)

__all__ = [
    "ApiCall",
    "ApiError",
    "Button",
    "CallbackAnswer",
    "Group",
    "Persona",
    "SimFile",
    "SimMessage",
    "SimulatorError",
    "TelegramSimulator",
]
