"""Tests for bot/domain/languages (issue 17, item 1): which language a parent's message is in.

Pure tests: no Rasa. The messages here are written for these tests; the held-out sets are
measured with ``python -m tools.languages.measure``, never used here.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import subprocess
import sys

import pytest
import yaml

from bot.domain.languages import Detection, LanguageDetector, detect, load_rules
from bot.domain.languages import detector as detector_module
from tools.languages import measure
from tests.support.paths import ROOT

LANGUAGES = ("nl", "en", "ar", "tr", "pl", "uk")

CLEAR = [
    ("nl", "mijn dochter slaapt heel slecht"),
    ("nl", "hij wil nooit zijn groente eten"),
    ("nl", "hoe leer ik mijn zoon luisteren"),
    ("nl", "ik ben zo moe van alles"),
    ("nl", "wat kan ik doen tegen pesten"),
    ("en", "How do I stop my toddler from biting?"),
    ("en", "my daughter cries every night"),
    ("en", "what should I do about screen time"),
    ("en", "he refuses to go to school"),
    ("ar", "ابني لا ينام جيدا في الليل"),
    ("ar", "كيف أتعامل مع نوبات الغضب"),
    ("ar", "ابنتي لا تأكل"),
    ("tr", "oğlum geceleri hiç uyumuyor"),
    ("tr", "kızım beni dinlemiyor"),
    ("tr", "cocugum cok agliyor ne yapmaliyim"),
    ("pl", "córka nie chce jeść obiadu"),
    ("pl", "mój syn źle śpi w nocy"),
    ("pl", "dziecko ciagle placze co robic"),
    ("uk", "мій син погано спить"),
    ("uk", "донька не хоче їсти"),
    ("uk", "що мені робити з підлітком"),
]


@pytest.mark.parametrize("previous", [None, "nl", "en", "ar"])
@pytest.mark.parametrize("language,text", CLEAR)
def test_clear_messages_get_their_language(language, text, previous):
    result = detect(text, previous=previous)
    assert isinstance(result, Detection)
    assert result.language == language, result
    assert 0.0 <= result.confidence <= 1.0


DUTCH_WITH_ENGLISH = [
    "mijn son van 3 heeft tantrums",
    "ze heeft een meltdown",
    "hij heeft separation anxiety",
    "bedtime is een drama",
    "mijn toddler doet heel moeilijk",
    "zij is super clingy de laatste weken",
    "te veel screen time, wat nu",
    "mijn kids luisteren never",
    "baby huilt",
    "puber blowt",
    "ze gamet de hele dag",
    "hallo ik ben Fatma",
    "mijn dochter heet Ayşe en ze slaapt slecht",
]


@pytest.mark.parametrize("previous", [None, "nl", "en", "tr", "pl"])
@pytest.mark.parametrize("text", DUTCH_WITH_ENGLISH)
def test_dutch_with_english_words_stays_dutch(text, previous):
    assert detect(text, previous=previous).language == "nl"


def test_dutch_words_rule_says_why():
    result = detect("mijn son van 3 heeft tantrums", previous="en")
    assert result == Detection("nl", 1.0, "dutch_words")


def test_english_with_a_dutch_looking_word_is_english():
    # "van" is Dutch, but English words outnumber it.
    assert detect("we took the van to my mother", previous="nl").language == "en"


SHORT = ["ok", "oké", "ja", "nee", "hoi", "thanks", "thank you", "dank je wel", "3", "14!", "👍", "🙂🙂",
         "?", "...", "ok 👍", "a"]


@pytest.mark.parametrize("previous", LANGUAGES)
@pytest.mark.parametrize("text", SHORT)
def test_short_messages_keep_the_previous_language(text, previous):
    result = detect(text, previous=previous)
    assert result.language == previous
    assert result.reason == "short"


@pytest.mark.parametrize("text", ["ok", "thanks", "3", "👍"])
def test_short_first_message_gets_the_default(text):
    assert detect(text) == Detection("nl", 0.0, "short")


REQUESTS = [
    ("kun je Engels praten?", "nl", "en"),
    ("Kunt u in het Arabisch antwoorden?", "nl", "ar"),
    ("in het Turks graag", "nl", "tr"),
    ("Engels graag", "nl", "en"),
    ("can you speak English", "nl", "en"),
    ("could you reply in Dutch please", "en", "nl"),
    ("English please", "nl", "en"),
    ("spreek je Pools?", "nl", "pl"),
    ("Türkçe konuşabilir misin", "nl", "tr"),
    ("po polsku proszę", "nl", "pl"),
    ("można po ukraińsku?", "pl", "uk"),
    ("можна українською?", "en", "uk"),
    ("هل يمكنك التحدث بالعربية", "nl", "ar"),
    ("Nederlands", "en", "nl"),
]


@pytest.mark.parametrize("text,previous,expected", REQUESTS)
def test_an_explicit_request_switches(text, previous, expected):
    assert detect(text, previous=previous) == Detection(expected, 1.0, "asked")


@pytest.mark.parametrize(
    "text",
    [
        "ze praat alleen Turks op school",
        "mijn kind spreekt thuis Arabisch en Nederlands",
        "hij leert Engels op school",
        "ik spreek geen Engels",
        "ik spreek niet goed Nederlands",
    ],
)
@pytest.mark.parametrize("previous", ["nl", "en"])
def test_naming_a_language_is_not_a_request(text, previous):
    result = detect(text, previous=previous)
    assert result.language == "nl"
    assert result.reason != "asked"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("I don't speak Dutch", "en"),
        ("I only speak a little Dutch", "en"),
        ("لا أتكلم الهولندية", "ar"),
        ("nie mówię po niderlandzku", "pl"),
        ("Hollandaca bilmiyorum", "tr"),
        ("не розмовляю нідерландською", "uk"),
    ],
)
def test_saying_what_one_cannot_speak_is_not_a_request(text, expected):
    result = detect(text, previous="nl")
    assert result.language == expected
    assert result.reason != "asked"


def test_scripts_decide():
    assert detect("شكرا جزيلا لك", previous="nl") == Detection("ar", 1.0, "script")
    assert detect("дякую тобі", previous="nl") == Detection("uk", 1.0, "script")
    # Russian is written in Cyrillic too; the assistant answers it in Ukrainian.
    assert detect("мой сын плохо спит", previous="nl").language == "uk"


@pytest.mark.parametrize("previous", [None, "en"])
def test_other_scripts_keep_the_previous_language(previous):
    result = detect("我的孩子晚上不睡觉", previous=previous)
    assert result == Detection(previous or "nl", 0.0, "other_script")


@pytest.mark.parametrize("previous", ["fr", "", "NL", 3, "russian"])
def test_an_unknown_previous_language_falls_back_to_dutch(previous):
    assert detect("ok", previous=previous).language == "nl"


BAD_INPUT = [
    "",
    "   \n\t ",
    None,
    42,
    3.5,
    ["mijn", "kind"],
    {"text": "hoi"},
    b"\xff\xfe\x00\x01binary",
    "\x00\x01\x02\x7f\x1b[31m",
    "\ud800\udfff lone surrogates",
    "\ufeff\u200b\u200d",
    "<script>alert('my son is an english text')</script>",
    "<b><i></i></b>",
    "<<<>>>&&&;;;",
    "&lt;p&gt;&amp;",
    "a" * 1_000_000,
    "mijn kind " * 200_000,
    "🙂" * 50_000,
    "\u0645" * 100_000,
    "".join(chr(c) for c in range(0x20, 0x3000)),
]


@pytest.mark.parametrize("text", BAD_INPUT, ids=range(len(BAD_INPUT)))
@pytest.mark.parametrize("previous", [None, "tr"])
def test_bad_input_never_raises(text, previous):
    result = detect(text, previous=previous)
    assert result.language in LANGUAGES
    assert 0.0 <= result.confidence <= 1.0
    assert isinstance(result.reason, str) and result.reason


def test_html_is_read_as_text():
    assert detect("<p>mijn dochter <b>slaapt</b> slecht</p>", previous="en").language == "nl"
    assert detect("<p>my daughter <b>sleeps</b> badly</p>", previous="nl").language == "en"
    # The content of a script tag is not the parent's words.
    assert detect("<script>my daughter sleeps badly</script>", previous="tr").language == "tr"


def test_empty_keeps_previous_with_reason_empty():
    assert detect("", previous="pl") == Detection("pl", 0.0, "empty")
    assert detect(None) == Detection("nl", 0.0, "empty")


def test_unsure_guess_does_not_switch_away():
    rules = dataclasses.replace(load_rules(), switch_confidence=1.01)
    strict = LanguageDetector(rules)
    # Without words of its own language lingua's guess alone is not enough to switch ...
    result = strict.detect("sleeping problems everywhere", previous="pl")
    assert result.language == "pl" and result.reason == "unsure"
    # ... with them it is.
    assert strict.detect("what should I do", previous="pl").language == "en"


def test_rules_file_is_consistent():
    rules = load_rules()
    assert rules.languages == LANGUAGES
    assert rules.default == "nl"
    assert rules.scripts == {"arabic": "ar", "cyrillic": "uk"}
    for phrase in ("ok", "ja", "hoi", "thanks"):
        assert phrase in rules.short_phrases
    assert {"mijn", "heeft", "een"} <= rules.words["nl"]


def _write_rules(tmp_path, change):
    data = yaml.safe_load(detector_module.RULES_FILE.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "languages.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda d: d["words"]["en"].append("mijn"), "listed for both"),
        (lambda d: d.update(default="fr"), "default"),
        (lambda d: d.update(languages=["nl", "xx"]), "without a lingua model"),
        (lambda d: d["requests"]["names"]["en"].append("turks"), "names two languages"),
        (lambda d: d.update(accuracy="medium"), "accuracy"),
    ],
)
def test_a_broken_rules_file_is_refused(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        load_rules(_write_rules(tmp_path, change))


def test_rules_from_the_file_change_behaviour(tmp_path):
    path = _write_rules(tmp_path, lambda d: d["short"]["phrases"].append("how are you"))
    assert LanguageDetector(load_rules(path)).detect("how are you", previous="nl").reason == "short"
    assert detect("how are you", previous="nl").reason != "short"


def test_lingua_models_load_without_network(monkeypatch):
    """The models ship in the package: building a detector must not open a socket."""

    def refuse(*args, **kwargs):
        raise OSError("network is not allowed in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(detector_module, "_LINGUA", detector_module._Lingua())
    low = LanguageDetector(dataclasses.replace(load_rules(), accuracy="low"))
    low.warm_up()
    assert low.detect("what should I do about it", previous="nl").language == "en"


def test_detection_works_in_a_process_without_network():
    """Stronger than the test above (lingua's Rust code does not use Python's socket): a child
    process in a network namespace of its own, with no network at all."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -n is not available here (needs root or user namespaces)")
    code = (
        "import socket\n"
        "from bot.domain.languages import detect\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
        "    print('NETWORK')\n"
        "except OSError:\n"
        "    pass\n"
        "print(detect('what should I do about it', 'nl').language, detect('oglum cok agliyor', 'nl').language)\n"
    )
    done = subprocess.run([unshare, "-n", sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["en", "tr"]


# --- the measurement script ----------------------------------------------------------------------


def _held_out(tmp_path, name, language, texts):
    path = tmp_path / name
    path.write_text(
        yaml.safe_dump({"language": language, "messages": [{"text": t, "intent": "x"} for t in texts]},
                       allow_unicode=True),
        encoding="utf-8",
    )
    return path


def test_measure_prints_shares_per_file(tmp_path, capsys):
    dutch = _held_out(tmp_path, "nl.yml", "nl", [
        "mijn dochter slaapt slecht",          # 4 words, right
        "ze heeft een meltdown",               # 4 words, right
        "how do I stop my toddler biting",     # 7 words, taken for English
        "ok",                                  # short: default nl, right
    ])
    english = _held_out(tmp_path, "en.yml", "en", [
        "my daughter cries every night",       # 5 words, right
        "mijn zoon van 3 heeft tantrums",      # 6 words, Dutch
    ])
    out_json = tmp_path / "reports" / "languages.json"
    assert measure.main([str(dutch), str(english), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "all messages:       3/4 right (75.0%)" in out
    assert "3-to-6-word:        2/2 right (100.0%)" in out
    assert "Dutch taken for another language: 1 (3-to-6-word: 0)" in out
    assert "all messages:       1/2 right (50.0%)" in out
    assert "3-to-6-word:        1/2 right (50.0%)" in out
    assert out.count("Dutch taken for another language") == 1
    # counts only: no message text in the output
    assert "meltdown" not in out and "tantrums" not in out
    figures = json.loads(out_json.read_text(encoding="utf-8"))
    assert [f["language"] for f in figures] == ["nl", "en"]
    assert figures[0]["all"]["taken_for_another"] == 1
    assert figures[0]["all"]["other_language"] == {"en": 1}
    assert figures[1]["words_3_to_6"]["share_right"] == 0.5


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "cannot read"),
        ("language: nl\nmessages: [unclosed", "not valid YAML"),
        ("- just a list", "expected a mapping"),
        ("language: nl\nmessages: 3", "must be a list"),
        ("language: nl\nmessages:\n  - intent: x", "message 1 has no text"),
    ],
)
def test_measure_refuses_bad_files_clearly(tmp_path, capsys, content, message):
    path = tmp_path / "held_out.yml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert measure.main([str(path)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("text", ["¼", "½ ¾", "²³", "Ⅻ"])
def test_numbers_that_are_word_characters_are_not_words(text: str) -> None:
    """'¼' matches \\w but is no letter: the detector keeps the language instead of raising."""
    assert detect(text, "en") == Detection("en", 0.0, "short")


@pytest.mark.parametrize("text", ["hier in de chat", "ok top", "bel me", "via whatsapp"])
def test_short_dutch_answers_stay_dutch(text: str) -> None:
    assert detect(text, "nl").language == "nl"


def test_addresses_are_no_language() -> None:
    """An answer to the hand-off's question ("mail me op ...") stays Dutch: the address is left out."""
    assert detect("mail me op ouder.abc123@example.nl", "nl").language == "nl"
    assert detect("you can mail me at jan@example.nl please", "nl").language == "en"
