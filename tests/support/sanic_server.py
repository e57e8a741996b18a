"""Run Rasa input channels on a real Sanic server in-process, registered the way Rasa does it."""
from __future__ import annotations

import socket
import uuid
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from rasa.core.channels.channel import InputChannel, register
from sanic import Sanic
from sanic import response as sanic_response


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def serving(channel: InputChannel, agent: Any) -> AsyncIterator[str]:
    """Yields the channel's webhook URL (``.../webhooks/<name>/webhook``); ``agent.handle_message``
    receives what Rasa's agent would."""
    Sanic.test_mode = True  # several apps in one process (keeps Sanic's touch-up re-runnable)
    app = Sanic(f"channel_test_{uuid.uuid4().hex}")
    app.ctx.agent = agent

    async def other(_: Any) -> Any:  # Rasa's server has other routes; Sanic needs at least one
        return sanic_response.text("ok")

    app.add_route(other, "/")
    register([channel], app, route="/webhooks/")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                     access_log=False)
    await server.startup()
    try:
        yield f"http://127.0.0.1:{port}/webhooks/{channel.url_prefix()}/webhook"
    finally:
        drain = getattr(channel, "drain", None)
        if drain is not None:
            await drain()
        state = getattr(channel, "state", None)
        if state is not None:
            await state.client.close()
        await server.close()
