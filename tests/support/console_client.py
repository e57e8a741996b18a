"""Flask's test client for the console and the web server's forms, as a browser uses them; and, for
the browser tests, a real server for a Flask app and the console's log-in."""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from flask.testing import FlaskClient
from werkzeug.serving import make_server


class BrowserClient(FlaskClient):
    """A test client that asks for HTML, as a browser does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ACCEPT"] = "text/html,application/xhtml+xml,*/*;q=0.8"


def csrf(client: Any, path: str = "/console/login") -> str:
    """The CSRF token of the form on `path`."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """A Flask app on a real HTTP server in a thread (for the browser tests); yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def log_in(page: Any, base: str, email: str, password: str) -> None:
    """Log in to the console in a real browser (Playwright page), as a professional types it."""
    page.goto(f"{base}/console/")
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen").click()
