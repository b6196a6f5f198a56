"""Google emulator: a stateful stand-in for Google's OAuth, RISC and Calendar v3 endpoints.

Use `GoogleEmulator` in process (tests) or run `python -m devtools.google_emulator` (make run)."""

from .emulator import GoogleEmulator
from .state import EmuUser

__all__ = ["EmuUser", "GoogleEmulator"]
