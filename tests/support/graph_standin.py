"""A local stand-in of Meta's Graph API (WhatsApp Cloud API ``/messages``), for tests.

Runs an aiohttp server on 127.0.0.1 in a background thread. Like the real API it checks the
bearer token (401, OAuthException code 190), the phone number id in the path (404) and the
message object's shape and Meta's limits (400, code 100), and answers a sent message with a
``wamid``. It records what it accepted (``sent``) and refused (``rejected``), and can be told to
fail the next requests (``fail_next``: 5xx / 429 with Retry-After) to test retries.

Like Meta it keeps the 24-hour customer-service window: once told when a number last wrote
(``parent_wrote``, what Meta learns from the parent's messages), it refuses any message but a
template to that number more than 24 hours later with 400, code 131047 ("Re-engagement
message"). Numbers it was never told about are not checked.

Templates (issue 19): the components of a template message are checked by shape (body text
parameters, quick-reply buttons with a payload and an index). Once templates are registered
(``register_template``: name, language, number of body parameters and of quick-reply buttons, as
a municipality registers them with Meta), a template of another name or language is refused with
404, code 132001, and a wrong number of parameters or buttons with 400, code 132000.
"""
from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from aiohttp import web

_DIGITS = re.compile(r"^\d{6,15}$")
WINDOW_SECONDS = 24 * 3600


def shape_problems(body: Any) -> List[str]:
    """What is wrong with a message object by the Cloud API's rules (empty list: fine)."""
    if not isinstance(body, dict):
        return ["body is not an object"]
    problems = []
    if body.get("messaging_product") != "whatsapp":
        problems.append("messaging_product must be 'whatsapp'")
    if not isinstance(body.get("to"), str) or not _DIGITS.match(body["to"]):
        problems.append("to must be a phone number (digits)")
    kind = body.get("type")
    if kind == "text":
        text = body.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("body"), str) or not text["body"]:
            problems.append("text.body missing")
        elif len(text["body"]) > 4096:
            problems.append("text.body longer than 4096")
        if isinstance(text, dict) and "preview_url" in text and not isinstance(text["preview_url"], bool):
            problems.append("text.preview_url must be a boolean")
    elif kind == "interactive":
        problems += _interactive_problems(body.get("interactive"))
    elif kind == "template":
        template = body.get("template")
        if not isinstance(template, dict) or not isinstance(template.get("name"), str) or not template["name"]:
            problems.append("template.name missing")
        elif not isinstance(template.get("language"), dict) or not isinstance(template["language"].get("code"), str):
            problems.append("template.language.code missing")
        else:
            problems += _component_problems(template.get("components"))
    elif kind == "image":
        image = body.get("image")
        if not isinstance(image, dict) or not (image.get("link") or image.get("id")):
            problems.append("image.link or image.id missing")
    else:
        problems.append(f"unsupported type {kind!r}")
    return problems


def _component_problems(components: Any) -> List[str]:
    """Meta's rules for a template's components: body text parameters (no newlines or tabs, at
    most 4 spaces in a row), quick-reply buttons with an index 0-9 and a payload."""
    if components is None:
        return []
    if not isinstance(components, list):
        return ["template.components must be a list"]
    problems: List[str] = []
    for component in components:
        if not isinstance(component, dict) or component.get("type") not in ("header", "body", "button"):
            problems.append("component type must be header, body or button")
            continue
        parameters = component.get("parameters")
        if not isinstance(parameters, list) or not parameters:
            problems.append("component parameters missing")
            continue
        if component["type"] == "button":
            if component.get("sub_type") not in ("quick_reply", "url"):
                problems.append("button sub_type must be quick_reply or url")
            if not re.fullmatch(r"[0-9]", str(component.get("index", ""))):
                problems.append("button index must be 0-9")
            for parameter in parameters:
                if not isinstance(parameter, dict) or parameter.get("type") != "payload" \
                        or not isinstance(parameter.get("payload"), str) or not parameter["payload"]:
                    problems.append("quick_reply parameter must be {type: payload, payload: ...}")
            continue
        for parameter in parameters:
            text = parameter.get("text") if isinstance(parameter, dict) else None
            if not isinstance(parameter, dict) or parameter.get("type") != "text" or not isinstance(text, str) or not text:
                problems.append("body parameter must be {type: text, text: ...}")
            elif "\n" in text or "\t" in text or "     " in text or len(text) > 1024:
                problems.append("body parameter has a newline, a tab, 5 spaces or over 1024 characters")
    return problems


def _interactive_problems(interactive: Any) -> List[str]:
    if not isinstance(interactive, dict):
        return ["interactive missing"]
    problems = []
    kind = interactive.get("type")
    body_text = (interactive.get("body") or {}).get("text") if isinstance(interactive.get("body"), dict) else None
    if not isinstance(body_text, str) or not body_text:
        problems.append("interactive.body.text missing")
    action = interactive.get("action")
    if not isinstance(action, dict):
        return problems + ["interactive.action missing"]
    if kind == "button":
        if isinstance(body_text, str) and len(body_text) > 1024:
            problems.append("button body longer than 1024")
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            return problems + ["1 to 3 reply buttons required"]
        ids, titles = set(), set()
        for button in buttons:
            reply = button.get("reply") if isinstance(button, dict) else None
            if not isinstance(button, dict) or button.get("type") != "reply" or not isinstance(reply, dict):
                problems.append("button must be {type: reply, reply: {...}}")
                continue
            rid, title = reply.get("id"), reply.get("title")
            if not isinstance(rid, str) or not rid or len(rid) > 256:
                problems.append("reply.id must be 1-256 characters")
            if not isinstance(title, str) or not title or len(title) > 20:
                problems.append("reply.title must be 1-20 characters")
            ids.add(rid)
            titles.add(title)
        if len(ids) != len(buttons) or len(titles) != len(buttons):
            problems.append("reply ids and titles must be unique")
    elif kind == "list":
        if isinstance(body_text, str) and len(body_text) > 4096:
            problems.append("list body longer than 4096")
        label = action.get("button")
        if not isinstance(label, str) or not label or len(label) > 20:
            problems.append("list button label must be 1-20 characters")
        sections = action.get("sections")
        if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
            return problems + ["1 to 10 sections required"]
        rows = [r for s in sections if isinstance(s, dict) for r in (s.get("rows") or [])]
        if not 1 <= len(rows) <= 10:
            problems.append("1 to 10 rows required")
        for row in rows:
            if not isinstance(row, dict):
                problems.append("row must be an object")
                continue
            if not isinstance(row.get("id"), str) or not row["id"] or len(row["id"]) > 200:
                problems.append("row.id must be 1-200 characters")
            if not isinstance(row.get("title"), str) or not row["title"] or len(row["title"]) > 24:
                problems.append("row.title must be 1-24 characters")
            if "description" in row and len(str(row["description"])) > 72:
                problems.append("row.description longer than 72")
    else:
        problems.append(f"unsupported interactive type {kind!r}")
    return problems


@dataclass
class Failure:
    status: int
    retry_after: Optional[str] = None
    code: Optional[int] = None


@dataclass
class GraphStandIn:
    """``with GraphStandIn(token, phone_number_id) as graph: ... graph.base_url ...``"""

    token: str
    phone_number_id: str
    port: int = 0
    version: str = "v21.0"
    sent: List[Dict[str, Any]] = field(default_factory=list)
    rejected: List[Dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    last_inbound: Dict[str, float] = field(default_factory=dict)  # number -> when it last wrote
    # (name, language) -> (body parameters, quick-reply buttons): the approved templates
    templates: Dict[Any, Any] = field(default_factory=dict)
    _failures: List[Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.version}"

    def fail_next(self, status: int, times: int = 1, retry_after: Optional[str] = None,
                  code: Optional[int] = None) -> None:
        with self._lock:
            self._failures.extend(Failure(status, retry_after, code) for _ in range(times))

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self.rejected.clear()
            self._failures.clear()
            self.last_inbound.clear()
            self.attempts = 0

    def register_template(self, name: str, language: str, body_parameters: int = 0,
                          quick_replies: int = 0) -> None:
        """A template approved by Meta for this account (from then on, only those are accepted)."""
        with self._lock:
            self.templates[(name, language)] = (body_parameters, quick_replies)

    def _template_refusal(self, body: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        if body.get("type") != "template":
            return None
        with self._lock:
            if not self.templates:
                return None
            template = body["template"]
            wanted = self.templates.get((template["name"], template["language"]["code"]))
        if wanted is None:
            return {"status": 404, "code": 132001, "message": "(#132001) Template name does not exist in the translation"}
        components = template.get("components") or []
        parameters = sum(len(c["parameters"]) for c in components if c["type"] == "body")
        buttons = sorted(int(c["index"]) for c in components if c["type"] == "button")
        if parameters != wanted[0] or buttons != list(range(wanted[1])):
            return {"status": 400, "code": 132000,
                    "message": "(#132000) Number of parameters does not match the expected number of params"}
        return None

    def parent_wrote(self, number: str, at: Optional[float] = None) -> None:
        """What Meta knows from the parent's messages: when `number` last wrote (now by default)."""
        with self._lock:
            self.last_inbound[number] = time.time() if at is None else float(at)

    def _outside_window(self, body: Dict[str, Any]) -> bool:
        with self._lock:
            last = self.last_inbound.get(body.get("to"))
        return body.get("type") != "template" and last is not None and time.time() - last > WINDOW_SECONDS

    def to(self, number: str) -> List[Dict[str, Any]]:
        with self._lock:
            return [m for m in self.sent if m.get("to") == number]

    async def _messages(self, request: web.Request) -> web.Response:
        with self._lock:
            self.attempts += 1
            failure = self._failures.pop(0) if self._failures else None
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": {"message": "Invalid OAuth access token.",
                                                "type": "OAuthException", "code": 190}}, status=401)
        if request.match_info["version"] != self.version or request.match_info["phone"] != self.phone_number_id:
            return web.json_response({"error": {"message": "Unknown path", "type": "GraphMethodException",
                                                "code": 100}}, status=404)
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return web.json_response({"error": {"message": "(#%s) failure" % (failure.code or 1),
                                                "code": failure.code or 1}}, status=failure.status,
                                     headers=headers)
        if not request.content_type == "application/json":
            return web.json_response({"error": {"message": "JSON expected", "code": 100}}, status=400)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": {"message": "Invalid JSON", "code": 100}}, status=400)
        problems = shape_problems(body)
        refusal = None if problems else self._template_refusal(body)
        if refusal is not None:
            with self._lock:
                self.rejected.append({"body": body, "problems": [refusal["message"]]})
            return web.json_response({"error": {"message": refusal["message"], "type": "OAuthException",
                                                "code": refusal["code"]}}, status=refusal["status"])
        if not problems and self._outside_window(body):
            with self._lock:
                self.rejected.append({"body": body, "problems": ["outside the 24-hour window"]})
            return web.json_response({"error": {
                "message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
                "error_data": {"details": "Message failed to send because more than 24 hours have passed "
                                          "since the customer last replied to this number."}}}, status=400)
        with self._lock:
            (self.rejected if problems else self.sent).append(body if not problems else {"body": body, "problems": problems})
        if problems:
            return web.json_response({"error": {"message": "(#100) Invalid parameter: " + "; ".join(problems),
                                                "type": "OAuthException", "code": 100}}, status=400)
        wamid = "wamid." + uuid.uuid4().hex
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                                  "messages": [{"id": wamid}]})

    def __enter__(self) -> "GraphStandIn":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/{version}/{phone}/messages", self._messages)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="graph-standin", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the Graph API stand-in did not start")

    def stop(self) -> None:
        async def shutdown() -> None:
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
