"""Services that run beside Rasa (web page, console, case store, catalogue editor, insight,
follow-ups, notifications, rate limits, pseudonyms, erasure, retention). They use the domain and
know nothing of Rasa (tests/unit/test_imports.py).
"""
