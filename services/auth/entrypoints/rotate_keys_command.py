"""``python -m services.auth.entrypoints.rotate_keys_command``: re-encrypt every stored secret under the
newest key. Run after putting a new key first in TOKEN_KEYS (and deploying it); once it reports nothing
left under old keys, the old key can be removed from TOKEN_KEYS. Needs DATABASE_URL and TOKEN_KEYS only.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping

from services.auth.adapters.crypto import TokenCipher
from services.auth.config import parse_token_keys
from services.auth.usecases.rotate_keys import rotate
from shared import db
from shared.config import DEFAULT_DATABASE_URL, Env
from shared.logs import configure_logging


async def main(environ: Mapping[str, str] | None = None) -> int:
    env = Env(environ)
    cipher = TokenCipher(parse_token_keys(env.text("TOKEN_KEYS")))
    pool = await db.create_pool(
        env.text("DATABASE_URL", DEFAULT_DATABASE_URL), schema="auth", application_name="auth-rotate-keys"
    )
    try:
        await rotate(pool, cipher)
    finally:
        await db.close_pool(pool)
    return 0


if __name__ == "__main__":
    configure_logging(Env().text("LOG_LEVEL", "INFO"))
    sys.exit(asyncio.run(main()))
