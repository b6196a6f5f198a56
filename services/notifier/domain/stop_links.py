"""Signed stop-reminders links: put into every alert and reminder, checked by the stop page.

Pure: HMAC over the episode id with the link secret; no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode


def _mac(secret: str, episode_id: str) -> str:
    digest = hmac.new(secret.encode(), f"stop-reminders:{episode_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def stop_signature(secret: str, episode_id: str) -> str:
    """The signature that lets a stop link end the reminders of ``episode_id`` (and nothing else)."""
    return _mac(secret, episode_id)


def stop_signature_valid(secret: str, episode_id: str, signature: str) -> bool:
    return hmac.compare_digest(_mac(secret, episode_id).encode(), signature.encode())


def stop_link(page_url: str, secret: str, episode_id: str, lang: str) -> str:
    """The link to the stop page (``page_url``) that stops the reminders of one episode."""
    query = urlencode({"e": episode_id, "sig": stop_signature(secret, episode_id), "l": lang})
    return f"{page_url}?{query}"
