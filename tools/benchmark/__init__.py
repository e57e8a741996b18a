"""``make bench``: latency, throughput, memory, start-up and training figures of the assistant.

Run with ``python -m tools.benchmark [--quick]``; see ``tools/benchmark/__main__.py``.
"""
