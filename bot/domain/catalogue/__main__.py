"""``python -m bot.domain.catalogue [PATH]``: the same check as ``python -m bot.domain.catalogue.check``."""
from .check import main

raise SystemExit(main())
