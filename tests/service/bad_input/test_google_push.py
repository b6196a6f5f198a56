"""Forged Google Calendar push notifications to sync (``X-Goog-Channel-ID``, ``X-Goog-Channel-Token``,
``X-Goog-Resource-State``, ``X-Goog-Message-Number``): the place for their properties once sync
has an inbound endpoint (a later issue). They follow the others here: a generated batch of forged,
replayed or unknown-channel notifications each gets a clear 4xx and triggers no sync, then a genuine
notification from the emulator still does."""

from __future__ import annotations

import pytest


@pytest.mark.skip(reason="sync has no inbound endpoint for Google push notifications yet (a later issue)")
async def test_forged_google_push_notifications_are_refused() -> None:
    """Forged, replayed or unknown-channel push notifications get a clear 4xx once sync accepts them."""
