"""Refresh scheduler, token RPC, user-deletion consumer and RISC receiver: installed on the app here.

Placeholder until those parts land; ``install`` keeps its signature.
"""

from __future__ import annotations

from aiohttp import web


def install(app: web.Application) -> None:
    """Add the background cleanup contexts and the /risc route to ``app``."""
