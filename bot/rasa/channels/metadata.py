"""The client metadata a channel may pass on to the tracker: a small allow-list, nothing else.

Rasa stores a user message's ``metadata`` in the tracker with the message. Clients could send up
to 64 kB (REST) or 1 MB (socket.io) of anything there, kept for the whole retention period. The
project's own clients send none: the web page (``bot/services/web/static/chat.js``) sends only
``message`` and ``session_id``; WhatsApp and Twilio pass ``{}``; the console writes bot events
through the HTTP API, not through a channel. The one key a chat widget commonly sends and the
contract has a slot for is the language of the page (rasa-webchat's ``customData``:
``{"language": "nl"}``). So ``allowed_metadata`` keeps only:

- ``language``: an ISO 639-1 code, optionally with a region (``nl``, ``en``, ``nl-BE``).

Everything else (other keys, nested values, long strings) is dropped without a word in the log.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, Mapping

_LANGUAGE = re.compile(r"^[a-z]{2}(?:-[A-Za-z]{2})?$")

# key -> check of its value; a value that fails the check is dropped
ALLOWED: Mapping[str, Callable[[Any], bool]] = {
    "language": lambda value: isinstance(value, str) and bool(_LANGUAGE.match(value)),
}


def allowed_metadata(metadata: Any) -> Dict[str, Any]:
    """The allow-listed keys of ``metadata`` with valid values; ``{}`` for anything else."""
    if not isinstance(metadata, Mapping):
        return {}
    return {key: metadata[key] for key, valid in ALLOWED.items()
            if key in metadata and valid(metadata[key])}
