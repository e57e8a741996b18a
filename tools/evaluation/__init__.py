"""Measuring the assistant: NLU quality against the held-out set, for this and Rasa's default pipeline."""
