"""Entry point: ``python -m services.auth``."""

from services.auth.app import create_app
from services.auth.config import AuthConfig
from shared.runtime import run


def main() -> None:
    config = AuthConfig.from_env()
    run(lambda: create_app(config), config.common)


if __name__ == "__main__":
    main()
