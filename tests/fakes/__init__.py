"""Fakes of systems outside calsync, used by tests and by `make run` (the Google emulator)."""
