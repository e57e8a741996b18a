"""``python -m bot.web``: serve the web app with waitress on 127.0.0.1:WEB_PORT."""
from __future__ import annotations

import logging
import os
import sys

from waitress import serve

from bot.web.app import create_app


def main() -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    port = int(os.environ.get("WEB_PORT") or 8080)
    app = create_app()
    logging.getLogger(__name__).info("web server on http://127.0.0.1:%d (chat talks to %s)",
                                     port, app.config["RASA_URL"])
    serve(app, host="127.0.0.1", port=port, threads=8, ident="opvoedmaatje")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
