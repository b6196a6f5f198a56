"""``python -m calsync_cli`` is the ``calsync`` console script."""

from calsync_cli.main import main

raise SystemExit(main())
