"""``python -m bot.catalogue [PATH]``: the same check as ``python -m bot.catalogue.check``."""
from .check import main

raise SystemExit(main())
