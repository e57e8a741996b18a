"""Rasa channels of the project (credentials.yml names them).

Importing this package is the start-up of the Rasa server: Rasa imports the channels named in
credentials.yml before it serves a message, so this is where the patches of Rasa internals are
installed, explicitly, all from one guarded module (bot/rasa/patches.py): the kind fallback for an
unreachable action server, the cached validation of action server responses, and crisis replies
while a professional holds a conversation. On a Rasa version they were not written for, start-up
stops with a RuntimeError that names the patch and the method to check."""
try:  # only inside the Rasa server; the action server and unit tests do not need it
    from rasa.core.actions.action import RemoteAction  # noqa: F401
except ImportError:  # pragma: no cover
    pass
else:
    from bot.rasa import patches

    patches.install_all()  # start-up of the Rasa server: see the docstring
