"""End to end: ``calsync risc register|check`` against auth running in-process and the emulator's RISC
management API (docs/google.md §11): a service account's key signs the calls, Google's stream is
pointed at auth's /risc, and the check ends with Google's verification event received and verified
by auth. The refusals an operator can meet are one-line errors with exit code 1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.google_emulator.keys import new_service_account
from shared.config import CommonConfig, GoogleConfig
from tests.e2e.cli_support import Operator, operating
from tests.e2e.support import StartChain


def _key_file(folder: Path, key: dict[str, Any], name: str = "risc-key.json") -> str:
    written = folder / name
    written.write_text(json.dumps(key))
    return str(written)


def _checks(text: str) -> dict[str, list[str]]:
    """``name  ok|FAILED  what was seen`` lines by name."""
    found = (line.split(maxsplit=2) for line in text.splitlines())
    return {parts[0]: parts[1:] for parts in found if len(parts) == 3 and parts[1] in ("ok", "FAILED")}


async def test_register_points_google_at_auth_and_check_sees_the_verification_event_arrive(
    start_chain: StartChain,
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
    tmp_path: Path,
) -> None:
    """Before registering, check says to register; `register` sets Google's receiver to auth's /risc
    with every event type auth acts on and enables the stream; `check` then passes all four checks,
    the last one being Google's verification event verified by auth."""
    key = _key_file(tmp_path, emulator.add_service_account())
    env = {"RISC_API_URL": emulator.base_url, "RISC_SERVICE_ACCOUNT_KEY_FILE": key}
    async with operating(start_chain, common_config, google_config, **env) as op:
        unregistered = await op.calsync("risc", "check")
        assert unregistered.code == 1 and "calsync risc register" in unregistered.err, unregistered.err

        registered = await op.calsync("risc", "register")
        assert registered.code == 0, registered.err
        stream = emulator.risc_stream
        assert stream is not None and stream.status == "enabled"
        assert stream.receiver_url == op.chain.auth.url + "/risc"
        wanted = (await op.calsync("risc", "register", "--json")).json()["events_requested"]
        assert sorted(stream.events_requested) == sorted(wanted) and len(wanted) == 7

        checked = await op.calsync("risc", "check")
        assert checked.code == 0, checked.out + checked.err
        lines = _checks(checked.out)
        assert [lines[name][0] for name in ("receiver", "events", "status", "delivery")] == ["ok"] * 4
        assert "verification event received and verified" in checked.out
        as_json = (await op.calsync("risc", "check", "--json")).json()
        assert as_json["ok"] is True and set(as_json["checks"]) == {
            "receiver",
            "events",
            "status",
            "delivery",
        }


async def test_check_names_what_is_wrong_with_the_stream(
    start_chain: StartChain,
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
    tmp_path: Path,
) -> None:
    """A stream pointing elsewhere fails the receiver check and the delivery (the event goes elsewhere);
    a disabled one fails the status check and is not asked for an event; both exit 1 and say how to fix."""
    key = _key_file(tmp_path, emulator.add_service_account())
    env = {"RISC_API_URL": emulator.base_url, "RISC_SERVICE_ACCOUNT_KEY_FILE": key}
    async with operating(start_chain, common_config, google_config, **env) as op:
        elsewhere = "http://127.0.0.1:9/risc"
        assert (await op.calsync("risc", "register", "--receiver", elsewhere)).code == 0
        misdirected = await op.calsync("risc", "check", "--timeout", "1.5")
        assert misdirected.code == 1, misdirected.out + misdirected.err
        lines = _checks(misdirected.out)
        assert lines["receiver"][0] == "FAILED" and op.chain.auth.url + "/risc" in lines["receiver"][1]
        assert lines["delivery"][0] == "FAILED" and lines["status"][0] == "ok"
        assert "fix: `calsync risc register`" in misdirected.out

        assert (await op.calsync("risc", "register")).code == 0
        emulator.risc_stream.status = "disabled"
        disabled = await op.calsync("risc", "check")
        assert disabled.code == 1
        lines = _checks(disabled.out)
        assert lines["status"] == ["FAILED", "disabled (Google sends nothing while disabled)"]
        assert "delivery" not in lines and lines["receiver"][0] == "ok"


async def test_key_and_credential_problems_are_one_line_errors(
    start_chain: StartChain,
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
    tmp_path: Path,
) -> None:
    """No key file set, a file that is not a service account's key, a key whose PEM is broken, and a
    key Google does not know (401) each give exit 1 and one line that names the fix; none prints the key."""
    _, unknown_key = new_service_account("stranger", "other-project", emulator.base_url + "/token")
    broken = {**emulator.add_service_account(), "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n"}
    async with operating(start_chain, common_config, google_config, RISC_API_URL=emulator.base_url) as op:
        await _refused(op, {}, "RISC_SERVICE_ACCOUNT_KEY_FILE is not set")
        not_a_key = _key_file(tmp_path, {"installed": {"client_id": "x"}}, "client.json")
        await _refused(
            op, {"RISC_SERVICE_ACCOUNT_KEY_FILE": not_a_key}, "is not a service account's JSON key"
        )
        await _refused(op, {"RISC_SERVICE_ACCOUNT_KEY_FILE": str(tmp_path / "absent.json")}, "cannot be read")
        await _refused(
            op,
            {"RISC_SERVICE_ACCOUNT_KEY_FILE": _key_file(tmp_path, broken, "broken.json")},
            "not an RSA key",
        )
        refused = await _refused(
            op,
            {"RISC_SERVICE_ACCOUNT_KEY_FILE": _key_file(tmp_path, unknown_key, "unknown.json")},
            "Google answered 401",
        )
        assert "refused the service account's credentials" in refused
        assert unknown_key["private_key"].splitlines()[1] not in refused
        assert emulator.risc_stream is None


async def _refused(op: Operator, env: dict[str, str], words: str) -> str:
    ran = await op.calsync("risc", "register", **env)
    assert ran.code == 1 and ran.out == "", ran
    assert ran.err.startswith("calsync: ") and words in ran.err and ran.err.count("\n") == 1, ran.err
    return ran.err
