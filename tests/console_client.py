"""Flask's test client for the console and the web server's forms, as a browser uses them."""
from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient


class BrowserClient(FlaskClient):
    """A test client that asks for HTML, as a browser does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ACCEPT"] = "text/html,application/xhtml+xml,*/*;q=0.8"


def csrf(client: Any, path: str = "/console/login") -> str:
    """The CSRF token of the form on `path`."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
