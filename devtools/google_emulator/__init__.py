"""Google emulator: a stateful stand-in for Google's OAuth, RISC and Calendar v3 endpoints.

Use `GoogleEmulator` in process (tests) or run `python -m devtools.google_emulator` (make run)."""

from .emulator import GoogleEmulator
from .records import EmuUser, Grant
from .state import EmulatorState

__all__ = ["EmuUser", "EmulatorState", "GoogleEmulator", "Grant"]
