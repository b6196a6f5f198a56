"""Entry point: ``python -m services.sync``."""

from services.sync.app import create_app
from services.sync.config import SyncConfig
from shared.runtime import run


def main() -> None:
    config = SyncConfig.from_env()
    run(lambda: create_app(config), config.common)


if __name__ == "__main__":
    main()
