"""Whether a recipient and the header values of an email can ever be sent: checked before any SMTP
attempt (``send_due``). Pure. A value refused here is refused the same way on every retry, so the
job fails at once with the reason named here (``UNUSABLE``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# One reason per way an email can never be sent, with the words recorded in the job and event.
UNUSABLE = {
    "no_address": "no address",
    "invalid_address": "the recipient address is not a usable email address",
    "invalid_name": "the recipient's name contains line breaks or control characters",
    "unsafe_header": "a header value contains line breaks or control characters",
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# local@domain: no spaces, control characters, angle brackets, quotes or a second @; the domain is
# one or more non-empty labels separated by dots (international names included).
_ATOM = r"[^@\s<>()\[\],;:\"\\]"
_LABEL = r"[^@\s<>()\[\],;:\"\\.]+"
_ADDRESS = re.compile(rf"{_ATOM}+@(?:{_LABEL}\.)*{_LABEL}")
MAX_ADDRESS = 254
MAX_LOCAL_PART = 64


def address_problem(address: str | None) -> str | None:
    """``no_address`` or ``invalid_address`` when no email can be sent to ``address``, else None."""
    if not address:
        return "no_address"
    local = address.rpartition("@")[0]
    usable = (
        len(address) <= MAX_ADDRESS
        and len(local) <= MAX_LOCAL_PART
        and not _CONTROL.search(address)
        and _ADDRESS.fullmatch(address) is not None
    )
    return None if usable else "invalid_address"


def recipient_problem(address: str | None, name: str | None) -> str | None:
    """Why this address and display name can never be used (a reason of ``UNUSABLE``), or None."""
    if problem := address_problem(address):
        return problem
    if name is not None and _CONTROL.search(name):
        return "invalid_name"
    return None


def header_problem(headers: Mapping[str, str]) -> str | None:
    """``unsafe_header`` when any value could end its header early (CR, LF or another control)."""
    return "unsafe_header" if any(_CONTROL.search(value) for value in headers.values()) else None
