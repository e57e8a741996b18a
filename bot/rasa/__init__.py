"""The project's extensions of Rasa itself. ``patches``: every patch of a Rasa internal, in one
guarded place (issue 16, item 4)."""
