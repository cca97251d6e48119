"""``python -m oneapi``."""

from .cli import main

raise SystemExit(main())
