"""The whole run's logs hold no message text, sender id, phone number, e-mail address or pseudonym
(issue 14): hooks of every test session (a plugin: tests/conftest.py loads it with ``pytest_plugins``)."""
from __future__ import annotations

import logging

import pytest

from tests.support import log_scan


def pytest_sessionstart(session: pytest.Session) -> None:
    project = logging.getLogger("bot")
    project.setLevel(logging.INFO)  # as production logs
    project.addHandler(log_scan.RunRecords(level=logging.INFO))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The whole run's logs hold no message text, sender id, phone number, e-mail address or
    pseudonym (issue 14): a leak fails the run."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or session.config.getoption("collectonly"):
        return
    found = log_scan.scan_run(factory.getbasetemp())
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["Personal data in the logs of this run (issue 14):"] + [f"  {f}" for f in found[:50]]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
