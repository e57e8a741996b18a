"""Rasa channels of the project. Importing this package (Rasa does, for credentials.yml) also
installs the kind fallback for an unreachable action server (bot/resilience.py), the speed-ups
of bot/speedups.py, and crisis replies while a professional holds a conversation
(bot/crisis_while_paused.py)."""
try:  # only inside the Rasa server; the action server and unit tests do not need it
    from rasa.core.actions.action import RemoteAction  # noqa: F401
except ImportError:  # pragma: no cover
    pass
else:
    from bot.crisis_while_paused import install_crisis_while_paused
    from bot.resilience import install_action_fallback
    from bot.speedups import install_cached_action_validation

    install_action_fallback()
    install_cached_action_validation()
    install_crisis_while_paused()
