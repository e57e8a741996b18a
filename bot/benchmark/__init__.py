"""``make bench``: latency, throughput, memory, start-up and training figures of the assistant.

Run with ``python -m bot.benchmark [--quick]``; see ``bot/benchmark/__main__.py``.
"""
