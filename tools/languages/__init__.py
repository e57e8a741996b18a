"""Measurements of the language detector (bot/domain/languages/): speed and accuracy."""
