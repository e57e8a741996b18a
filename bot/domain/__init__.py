"""Domain logic of Opvoedmaatje: plain Python, no Rasa, tested without any server.

Imports only itself, ``bot.vocabulary`` and ``bot.settings`` (tests/unit/test_imports.py).
"""
