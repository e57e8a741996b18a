"""WhatsApp webhooks as Meta sends them, signed with the app secret (tests/e2e/test_whatsapp.py and
tests/e2e/test_followups_e2e.py)."""
from __future__ import annotations

import hashlib
import hmac
from typing import Any, Dict, List, Optional

SECRET = "unit-app-secret"
PHONE_ID = "100200300400"
NUMBER = "31612345678"


def sign(raw: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def webhook(*messages: Dict[str, Any], statuses: Optional[List[Dict[str, Any]]] = None,
            phone_number_id: str = PHONE_ID, number: str = NUMBER) -> Dict[str, Any]:
    value: Dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": "15550001234",
                                          "phone_number_id": phone_number_id}}
    if messages:
        value["contacts"] = [{"profile": {"name": "Test Ouder"}, "wa_id": number}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]}
