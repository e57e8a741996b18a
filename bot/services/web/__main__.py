"""``python -m bot.services.web``: serve the web app with waitress on 127.0.0.1:WEB_PORT."""
from __future__ import annotations

import logging
import sys

from waitress import serve

from bot import settings
from bot.services.web.app import create_app


def main() -> int:
    values = settings.current()
    logging.basicConfig(level=values.LOG_LEVEL, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    port = int(values.value("WEB_PORT"))
    app = create_app()
    logging.getLogger(__name__).info("web server on http://127.0.0.1:%d (chat talks to %s)",
                                     port, app.config["RASA_URL"])
    serve(app, host="127.0.0.1", port=port, threads=8, ident="opvoedmaatje")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
