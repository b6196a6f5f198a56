"""Entry point: ``python -m services.notifier``."""

from services.notifier.app import create_app
from services.notifier.config import NotifierConfig
from shared.runtime import run


def main() -> None:
    config = NotifierConfig.from_env()
    run(lambda: create_app(config), config.common)


if __name__ == "__main__":
    main()
