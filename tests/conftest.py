"""The test suite's plugins: the shared fixtures and hooks live in tests/support/ (pytest only
reads ``pytest_plugins`` in this top-level conftest).

- ``tests.support.assistant``: the trained model and the real servers (the ``assistant`` and
  ``assistant_without_actions`` session fixtures), started once per test session.
- ``tests.support.run_log_scan``: the whole run's logs hold no personal data (issue 14).

Folders: tests/unit (no server, process, browser or database server), tests/e2e (real servers and
processes), tests/browser (Chromium through Playwright).
"""

pytest_plugins = [
    "tests.support.assistant",
    "tests.support.run_log_scan",
]
