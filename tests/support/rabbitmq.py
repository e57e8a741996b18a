"""The local RabbitMQ of the statistics and insight tests: its URL, whether it runs, and clean-up."""
from __future__ import annotations

import socket

import pytest

AMQP = "amqp://guest:guest@127.0.0.1:5672/"


def _reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


needs_rabbit = pytest.mark.skipif(not _reachable(), reason="RabbitMQ is not reachable at 127.0.0.1:5672")


async def delete_queue_and_exchange(queue: str, exchange: str) -> None:
    import aio_pika

    connection = await aio_pika.connect_robust(AMQP)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)
