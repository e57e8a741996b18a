"""Tooling for the team, not run by the assistant: make eval, make bench, make demo-data, the
trained-model cache and the language detector's measurements."""
