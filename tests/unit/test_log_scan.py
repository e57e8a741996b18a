"""tests/support/log_scan.py: what the whole-run log scan (tests/support/run_log_scan.py) finds."""
from __future__ import annotations

from pathlib import Path

from tests.support import log_scan


def test_shapes_of_personal_data_are_found_and_ordinary_lines_are_not() -> None:
    line = ("bel 06-12345678 of +31612345678, mail a.b@gemeente.nl, id wa-0123456789abcdef0123456789abcdef; "
            "rasa 3.6.21 op 10.0.0.1:5005, 3 messages in 120 ms, case 42")
    assert log_scan.shaped_leaks(line) == ["06-12345678", "+31612345678", "a.b@gemeente.nl",
                                           "wa-0123456789abcdef0123456789abcdef"]
    assert log_scan.shaped_leaks("rasa 3.6.21 op 10.0.0.1:5005, 3 messages in 120 ms, case 42") == []


def test_the_run_scan_reads_server_logs_and_the_records_of_the_test_process(tmp_path: Path) -> None:
    log_scan.remember("test-scanner-1", "mijn dochter slaapt slecht")
    server_log = tmp_path / "rasa.log"
    server_log.write_text("INFO handled a message for test-scanner-1: mijn dochter slaapt slecht\n")
    try:
        found = log_scan.scan_run(tmp_path)
    finally:
        server_log.unlink()  # the run's own scan must not find this planted leak
        log_scan.SENT_TEXTS.discard("mijn dochter slaapt slecht")
        log_scan.SENDERS.discard("test-scanner-1")
    assert "rasa.log: mijn dochter slaapt slecht" in found and "rasa.log: test-scanner-1" in found
