"""Sender ids as keyed hashes; the in-memory number book and the memory of recent ids."""
from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import pytest

from bot.services import pseudonym as ps
from bot.services.pseudonym import NumberBook, Pseudonymizer, RecentIds

SECRET = b"test-secret"


def test_the_pseudonym_is_the_hmac_sha256_of_the_normalised_number() -> None:
    expected = hmac.new(SECRET, b"tel:31612345678", hashlib.sha256).hexdigest()[:32]
    assert Pseudonymizer(SECRET).pseudonym("31612345678") == f"wa-{expected}"


@pytest.mark.parametrize("same", ["31612345678", "+31612345678", "whatsapp:+31612345678",
                                  "+31 6 1234 5678", "0031612345678", "+31 (6) 12-34-56-78"])
def test_formats_of_one_number_give_one_pseudonym(same: str) -> None:
    p = Pseudonymizer(SECRET)
    assert p.pseudonym(same) == p.pseudonym("31612345678")


def test_different_numbers_secrets_and_prefixes_give_different_pseudonyms() -> None:
    a, b = Pseudonymizer(SECRET), Pseudonymizer(b"another-secret")
    assert a.pseudonym("31612345678") != a.pseudonym("31612345679")
    assert a.pseudonym("31612345678") != b.pseudonym("31612345678")
    assert a.pseudonym("31612345678", "wa") != a.pseudonym("31612345678", "tw")
    assert a.pseudonym("31612345678", "tw").startswith("tw-")


@pytest.mark.parametrize("identifier", ["", "abc", "user-42", "😀" * 10, "<script>x</script>",
                                        "a" * 1_000_000, "\udcff\x00garbage", "12"])
def test_any_identifier_gets_a_fixed_length_pseudonym_without_its_content(identifier: str) -> None:
    pid = Pseudonymizer(SECRET).pseudonym(identifier)
    assert len(pid) == len("wa-") + ps.DIGEST_CHARS
    assert all(c in "0123456789abcdef" for c in pid[3:])
    assert pid == Pseudonymizer(SECRET).pseudonym(identifier)


def test_a_non_number_is_not_mistaken_for_its_digits() -> None:
    p = Pseudonymizer(SECRET)
    assert p.pseudonym("user31612345678") != p.pseudonym("31612345678")


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        Pseudonymizer(b"")


def test_the_secret_comes_from_the_environment_first(tmp_path: Path) -> None:
    secret_file = tmp_path / "sender-id-secret"
    assert ps.load_secret({"SENDER_ID_SECRET": "from-env"}, secret_file) == b"from-env"
    assert not secret_file.exists()


def test_without_the_environment_a_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    secret_file = tmp_path / "var" / "sender-id-secret"
    first = ps.load_secret({"SENDER_ID_SECRET": ""}, secret_file)
    assert len(first) >= 32
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert ps.load_secret({}, secret_file) == first
    other = tmp_path / "other-secret"
    assert ps.load_secret({}, other) != first


def test_an_existing_secret_file_is_used(tmp_path: Path) -> None:
    secret_file = tmp_path / "sender-id-secret"
    secret_file.write_text("kept-secret\n", encoding="utf-8")
    assert ps.load_secret({}, secret_file) == b"kept-secret"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_number_book_forgets_a_number_after_its_ttl() -> None:
    clock = Clock()
    book = NumberBook(ttl=3600, clock=clock)
    book.remember("wa-1", "31612345678")
    clock.now += 3599
    assert book.lookup("wa-1").number == "31612345678"
    clock.now += 2
    assert book.lookup("wa-1") is None and len(book) == 0


def test_a_new_message_extends_the_ttl_and_sets_the_last_inbound_time() -> None:
    clock = Clock()
    book = NumberBook(ttl=3600, clock=clock)
    book.remember("wa-1", "31612345678", last_inbound=clock.now - 10)
    clock.now += 3000
    book.remember("wa-1", "31612345678")
    clock.now += 3000
    contact = book.lookup("wa-1")
    assert contact is not None and contact.last_inbound == clock.now - 3000


def test_a_last_inbound_time_in_the_future_is_clamped_to_now() -> None:
    clock = Clock()
    book = NumberBook(clock=clock)
    book.remember("wa-1", "31612345678", last_inbound=clock.now + 10_000)
    assert book.lookup("wa-1").last_inbound == clock.now


def test_the_number_book_is_bounded_and_can_forget() -> None:
    book = NumberBook(max_entries=3)
    for i in range(5):
        book.remember(f"wa-{i}", f"3161234567{i}")
    assert len(book) == 3 and book.lookup("wa-0") is None and book.lookup("wa-4") is not None
    book.forget("wa-4")
    assert book.lookup("wa-4") is None


def test_recent_ids_see_repeats_and_stay_bounded() -> None:
    recent = RecentIds(max_entries=3)
    assert [recent.seen_before(i) for i in ["a", "b", "a", "c", "d"]] == [False, False, True, False, False]
    assert len(recent) == 3
    assert recent.seen_before("a") is True   # "a" was used recently, so it was kept
    assert recent.seen_before("b") is False  # "b" was the oldest: dropped
