"""Tests for the crisis detector (bot/domain/crisis.py, bot/knowledge/crisis.yml).

Run with ``pytest tests/unit/test_crisis.py -q -s`` to see the figures (recall, false-crisis rate,
signal accuracy, held-back results). No Rasa, no spaCy needed (one optional test uses spaCy).
"""
from __future__ import annotations

import dataclasses
import logging
import random
import statistics
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
import yaml

from bot.domain import crisis
from bot.domain.crisis import SITUATIONS, CrisisMatch, detect_crisis, is_benign_figure_of_speech, normalise
from tests.support.held_back import (
    HELD_BACK_1_CRISIS, HELD_BACK_1_NEAR_MISS, HELD_BACK_2_CRISIS, HELD_BACK_2_NEAR_MISS, HELD_BACK_3_CRISIS,
    HELD_BACK_3_NEAR_MISS,
)
from tests.support.paths import DATA as TEST_DATA

REDTEAM = TEST_DATA / "redteam.yml"
SIGNALS = {"suicide", "geweld", "ouder_acuut", "medisch_acuut"}


def _load() -> dict:
    with REDTEAM.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


DATA = _load()
CRISIS_ITEMS: List[dict] = DATA["crisis"]
NEAR_MISS: List[str] = [item["text"] for item in DATA["near_miss"]]


def _item_turns(item: dict) -> List[str]:
    return list(item["turns"]) if "turns" in item else [item["text"]]


def _evaluate(item: dict) -> Tuple[bool, bool, List[Optional[CrisisMatch]]]:
    """(detected on some turn, right signal on some turn, per-turn results)."""
    results = [detect_crisis(t) for t in _item_turns(item)]
    detected = any(r is not None for r in results)
    right = any(r is not None and r.signal == item["signal"] for r in results)
    return detected, right, results


# ----------------------------------------------------------------------------- the red-team set


def test_redteam_set_shape() -> None:
    assert DATA["version"] == 1
    assert len(CRISIS_ITEMS) >= 240
    per_signal: Dict[str, int] = {s: 0 for s in SIGNALS}
    for item in CRISIS_ITEMS:
        assert item["signal"] in SIGNALS, item
        assert ("text" in item) != ("turns" in item), item
        per_signal[item["signal"]] += 1
    assert all(n >= 55 for n in per_signal.values()), per_signal
    assert sum("turns" in i for i in CRISIS_ITEMS) >= 25
    assert len(NEAR_MISS) >= 240
    texts = [t for i in CRISIS_ITEMS for t in _item_turns(i)] + NEAR_MISS
    assert all(isinstance(t, str) and t.strip() for t in texts)
    assert len(set(NEAR_MISS)) == len(NEAR_MISS), "duplicate near-miss items"


def test_recall_on_all_crisis_items_is_100_percent() -> None:
    missed, wrong_turn = [], []
    right_total = 0
    per_signal = {s: [0, 0] for s in SIGNALS}  # [right signal, total]
    for item in CRISIS_ITEMS:
        detected, right, results = _evaluate(item)
        per_signal[item["signal"]][1] += 1
        if right:
            right_total += 1
            per_signal[item["signal"]][0] += 1
        if not detected:
            missed.append((item["signal"], _item_turns(item)))
        elif "turns" in item and not right:
            wrong_turn.append((item["signal"], [r and r.signal for r in results]))
    n = len(CRISIS_ITEMS)
    recall = (n - len(missed)) / n
    accuracy = right_total / n
    breakdown = ", ".join(f"{s} {a}/{t}" for s, (a, t) in sorted(per_signal.items()))
    summary = (f"crisis recall {recall:.1%} ({n - len(missed)}/{n}); signal accuracy "
               f"{accuracy:.1%} ({right_total}/{n}: {breakdown})")
    print("\n" + summary)
    assert not missed, f"{summary}; missed: {missed}"
    assert not wrong_turn, f"{summary}; turns-items without the right signal: {wrong_turn}"


def test_signal_accuracy() -> None:
    wrong = []
    for item in CRISIS_ITEMS:
        detected, right, results = _evaluate(item)
        if detected and not right:
            wrong.append((item["signal"], [r and (r.signal, r.rule) for r in results], _item_turns(item)))
    accuracy = 1 - len(wrong) / len(CRISIS_ITEMS)
    print(f"\nsignal accuracy {accuracy:.1%}")
    assert accuracy >= 0.95, f"signal accuracy {accuracy:.1%}; wrong: {wrong}"


def test_false_crisis_rate_on_near_misses_at_most_3_percent() -> None:
    false = [(t, detect_crisis(t)) for t in NEAR_MISS]
    false = [(t, r.signal, r.rule) for t, r in false if r is not None]
    rate = len(false) / len(NEAR_MISS)
    summary = f"false-crisis rate {rate:.1%} ({len(false)}/{len(NEAR_MISS)})"
    print("\n" + summary)
    assert rate <= 0.03, f"{summary}: {false}"


def test_with_spacy_lemmas_no_regression() -> None:
    """The lemma path (what the Rasa component passes) keeps recall and adds no false alarms."""
    spacy = pytest.importorskip("spacy")
    try:
        nlp = spacy.blank("nl")
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()
    except Exception as exc:  # spacy-lookups-data missing
        pytest.skip(f"Dutch lookup lemmatizer not available: {exc}")

    def lemmas(text: str) -> List[str]:
        return [t.lemma_ for t in nlp(text)]

    missed = [i for i in CRISIS_ITEMS
              if not any(detect_crisis(t, lemmas(t)) for t in _item_turns(i))]
    wrong = [i for i in CRISIS_ITEMS
             if not any((r := detect_crisis(t, lemmas(t))) and r.signal == i["signal"]
                        for t in _item_turns(i))]
    false = [t for t in NEAR_MISS if detect_crisis(t, lemmas(t))]
    print(f"\nwith lemmas: missed {len(missed)}, wrong signal {len(wrong)}, "
          f"false {len(false)}/{len(NEAR_MISS)}")
    assert not missed, missed
    assert len(wrong) <= len(CRISIS_ITEMS) * 0.05, wrong
    assert len(false) / len(NEAR_MISS) <= 0.03, false


# ----------------------------------------------------------------------------- rule data


def test_every_rule_detects_its_own_examples() -> None:
    failures = []
    for rule_id, signal, examples in crisis.rules():
        assert examples, f"rule {rule_id} has no examples"
        for example in examples:
            result = detect_crisis(example)
            if result is None or result.signal != signal:
                failures.append((rule_id, example, result))
    assert not failures, failures


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    keys = [loader.construct_object(k, deep=deep) for k, _ in node.value]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {duplicates}", node.start_mark)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


@pytest.mark.parametrize("path", [crisis.DATA_FILE, REDTEAM])
def test_yaml_files_have_no_duplicate_keys(path: Path) -> None:
    with path.open(encoding="utf-8") as fh:
        yaml.load(fh, Loader=_StrictLoader)  # noqa: S506 - SafeLoader subclass


def test_rule_ids_unique_and_signals_valid() -> None:
    ids = [r[0] for r in crisis.rules()]
    assert len(ids) == len(set(ids))
    assert {r[1] for r in crisis.rules()} == SIGNALS


# The situations of CONTRACT.md 4b, in the contract's order, with their signal.
CONTRACT_SITUATIONS = {
    "suicidaal_kind": "suicide", "suicidaal_ouder": "suicide",
    "mishandeling": "geweld", "huiselijk_geweld": "geweld", "seksueel_misbruik": "geweld",
    "uitbuiting": "geweld", "vermist": "geweld",
    "ouder_grens": "ouder_acuut", "ouder_psychisch": "ouder_acuut",
    "vergiftiging": "medisch_acuut", "medisch_baby": "medisch_acuut", "medisch_acuut": "medisch_acuut",
    "eetstoornis_acuut": "medisch_acuut",
}


def test_situations_mapping_is_the_contracts() -> None:
    assert list(SITUATIONS.items()) == list(CONTRACT_SITUATIONS.items())


def test_every_rule_has_one_valid_situation_and_every_situation_a_rule() -> None:
    details = crisis.rule_situations()
    assert [d[0] for d in details] == [r[0] for r in crisis.rules()]
    for rule_id, signal, situation, _ in details:
        assert situation in SITUATIONS, (rule_id, situation)
        assert SITUATIONS[situation] == signal, (rule_id, signal, situation)
    assert {d[2] for d in details} == set(SITUATIONS)


def test_every_rule_example_gives_the_rules_situation() -> None:
    failures = []
    for rule_id, signal, situation, examples in crisis.rule_situations():
        for example in examples:
            result = detect_crisis(example)
            if result is None or (result.signal, result.situation) != (signal, situation):
                failures.append((rule_id, situation, example, result))
    assert not failures, failures


def test_every_crisis_match_carries_a_situation_of_its_signal() -> None:
    for item in CRISIS_ITEMS:
        for text in _item_turns(item):
            result = detect_crisis(text)
            if result is not None:
                assert SITUATIONS[result.situation] == result.signal, (text, result)


@pytest.mark.parametrize(
    "change, message",
    [
        (("situation: suicidaal_ouder", ""), "has no situation"),
        (("situation: suicidaal_ouder", "situation: suicidaal"), "unknown situation"),
        (("situation: suicidaal_ouder", "situation: vermist"), "belongs to signal geweld"),
    ],
)
def test_a_rule_without_a_valid_situation_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     change: Tuple[str, str], message: str) -> None:
    text = crisis.DATA_FILE.read_text(encoding="utf-8")
    first = text.index("situation: suicidaal_ouder")
    broken = text[:first] + text[first:].replace(change[0], change[1], 1)
    path = tmp_path / "crisis.yml"
    path.write_text(broken, encoding="utf-8")
    monkeypatch.setattr(crisis, "DATA_FILE", path)
    with pytest.raises(ValueError, match=message):
        crisis._engine.__wrapped__()  # built apart: the cached engine of the other tests stays
        crisis._rule_literals.cache_clear()
    assert detect_crisis("ik wil dood") is not None


@pytest.mark.parametrize(
    "text, situation",
    [
        # the writer's own words are the parent's; quoted, or written by a child, they are the child's
        ("ik wil dood", "suicidaal_ouder"),
        ("ik zie het niet meer zitten, de baby huilt de hele dag", "suicidaal_ouder"),
        ("soms denk ik dat mijn kinderen beter af zijn zonder mij", "suicidaal_ouder"),
        ("mijn man zegt dat hij er een eind aan wil maken", "suicidaal_ouder"),
        ("mijn dochter van 13 zegt dat ze dood wil", "suicidaal_kind"),
        ("mijn zoon schreef in zijn dagboek: ik wil niet meer leven", "suicidaal_kind"),
        ("ik ben 14 en ik wil dood", "suicidaal_kind"),
        ("mijn zoon zei tegen mijn man dat hij dood wil", "suicidaal_kind"),
        ("mijn man en ik zijn bang dat onze dochter zelfmoord wil plegen", "suicidaal_kind"),
        # geweld
        ("mijn man slaat de kinderen", "mishandeling"),
        ("mijn man slaat mij waar de kinderen bij zijn", "huiselijk_geweld"),
        ("papa doet me pijn", "mishandeling"),
        ("opa zit aan haar plassertje", "seksueel_misbruik"),
        ("mijn zoon moet van oudere jongens drugs verkopen anders slaan ze hem", "uitbuiting"),
        ("mijn dochter van 14 heeft een loverboy", "uitbuiting"),
        ("mijn dochter van 7 is weg en ik kan haar nergens vinden", "vermist"),
        ("onze zoon van 16 is gisteravond niet thuisgekomen en zijn telefoon staat uit", "vermist"),
        ("de kinderen zijn meegenomen naar het buitenland", "vermist"),
        # ouder_acuut
        ("ik heb de baby net door elkaar geschud", "ouder_grens"),
        ("als hij nog een keer krijst weet ik niet wat ik doe", "ouder_grens"),
        ("ik ga weg, de kinderen zoeken het maar uit, ik kan niet meer", "ouder_grens"),
        ("mijn vriendin is twee weken geleden bevallen en zegt dat de baby niet van haar is", "ouder_psychisch"),
        ("mijn man is dronken en moet op de kinderen passen", "ouder_psychisch"),
        # medisch_acuut
        ("mijn zoon van 2 heeft een vaatwastablet in zijn mond gehad", "vergiftiging"),
        ("mijn baby van 3 weken drinkt niet meer en is heel slap", "medisch_baby"),
        ("baby van 6 weken heeft 38,5", "medisch_baby"),
        ("mijn baby ademt niet meer", "medisch_acuut"),
        ("mijn dochter van 14 eet al dagen niets en is vandaag flauwgevallen", "eetstoornis_acuut"),
    ],
)
def test_situation(text: str, situation: str) -> None:
    result = detect_crisis(text)
    assert result is not None and result.situation == situation, result


@pytest.mark.parametrize(
    "text",
    [
        "we raakten hem even kwijt in de supermarkt, hoe leer ik hem dichtbij te blijven",
        "zijn knuffel is weg en ik kan hem nergens vinden",
        "mijn dochter is haar knuffel kwijt en ik kan hem niet vinden",
        "hoe voorkom ik dat mijn kind wegloopt in een drukke stad",
        "wat moet ik doen als mijn kind niet thuiskomt na school",
        "mijn zoon van 17 is niet thuisgekomen maar heeft geappt dat hij bij zijn vriendin slaapt",
        "hij dreigt weg te lopen als hij zijn zin niet krijgt",
        "ik heb het gevoel dat ik mijn dochter kwijt ben aan haar telefoon",
        "mijn zoon van 15 heeft een bijbaan als pakketbezorger",
        "hoe praat ik met mijn zoon over loverboys",
        "moet ik mijn kind de spullen terug laten brengen naar de winkel",
        "ik weet niet wat ik moet doen met zijn driftbuien",
        "mag ik mijn kinderen van 10 en 12 een uurtje alleen laten",
        "ik ben sinds de bevalling een beetje in de war over al die adviezen",
        "mijn man denkt dat de baby niet van hem is, moeten we een dna test doen",
        "mijn peuter eet al dagen bijna niets",
        "mijn zoon van 10 eet al 2 dagen niks, hij heeft buikgriep",
        "ze viel flauw bij het bloedprikken",
        "mijn baby is een beetje slap na de prik",
        "mijn baby is verkouden en ademt snel door zijn neus",
    ],
)
def test_not_a_crisis_near_new_situations(text: str) -> None:
    assert detect_crisis(text) is None


def test_benign_pattern_examples_are_benign() -> None:
    for benign_id, examples in crisis.benign_patterns():
        assert examples, benign_id
        for example in examples:
            assert detect_crisis(example) is None, (benign_id, example)
            assert is_benign_figure_of_speech(example), (benign_id, example)


# ----------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Ik wil NIET meer léven", "ik wil niet meer leven"),
        ("neeeeee", "nee"),
        ("hij is doooood", "hij is dood"),
        ("mn zoon en zn zus", "mijn zoon en zijn zus"),
        ("m'n dochter en z’n broer", "mijn dochter en zijn broer"),
        ("k wil nie meer leve", "ik wil niet meer leven"),
        ("kzie t nie meer zitten", "ik zie het niet meer zitten"),
        ("kheb mn zoon", "ik heb mijn zoon"),
        ("SUÏCIDE", "suicide"),
        ("zelfmoort", "zelfmoord"),
        ("hij is bewustloos", "hij is bewusteloos"),
        ("ze heeft 38.5 koorts", "ze heeft 38,5 koorts"),
        ("<p>mijn <b>zoon</b> &amp; ik</p>", "mijn zoon ik"),
        ("ik kan niet meer 😂", "ik kan niet meer haha"),
        ("mijne kleine weent", "mijn kleine huilt"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_normalise_sentence_marks_and_commas() -> None:
    assert normalise("Hoi. Ik kan niet meer, help!") == "hoi . ik kan niet meer , help ."


@pytest.mark.parametrize(
    "text, signal",
    [
        ("ik wiiiiil doooood", "suicide"),  # letters repeated
        ("K WIL NIE MEER LEVE!!!", "suicide"),  # shouting, WhatsApp
        ("mn dochter heeft zelfmoort gedachtes", "suicide"),  # misspelt
        ("mijn kind is bewustloos", "medisch_acuut"),
        ("baby&nbsp;ademt&nbsp;niet", "medisch_acuut"),  # HTML entities
        ("<script>x</script><p>mijn man <i>slaat</i> de kinderen</p>", "geweld"),
        ("ik heb mijn baby geschud 😭😭", "ouder_acuut"),
    ],
)
def test_detection_survives_noise(text: str, signal: str) -> None:
    result = detect_crisis(text)
    assert result is not None and result.signal == signal, result


# ----------------------------------------------------------------------------- benign speech


@pytest.mark.parametrize(
    "text",
    [
        "hij speelt dat hij dood is",
        "mijn zoon van 6 riep 'ik schiet je dood' tegen zijn broertje tijdens het spelen",
        "mijn zoon van 5 schreeuwde 'ik vermoord je' in zijn driftbui",
        "ik ben doodmoe",
        "ik word doodziek van dat gezeur",
        "ik word gek",
        "ik kan hem wel schieten",
        "we gingen dood van het lachen",
        "hij speelt een game waarin je doodgaat",
    ],
)
def test_benign_figures_of_speech(text: str) -> None:
    assert detect_crisis(text) is None
    assert is_benign_figure_of_speech(text)


@pytest.mark.parametrize(
    "text",
    [
        "onze kat is dood en mijn dochter is verdrietig",
        "opa is overleden, hoe vertel ik het mijn zoon van 5?",
        "hoe praat ik met mijn kind over de zelfmoord van een klasgenoot",
        "mag mijn kind van 4 paracetamol?",
        "koorts bij een kind van 3",
        "ze snijdt zelf haar brood",
        "hij slaat zijn zusje, hij is 2",
        "ik kan het niet meer aan met zijn driftbuien",
        "ik ben op",
        "hoe laat moet een kind van 8 eigenlijk naar bed",  # not "moet ... naar bed" (forced sex)
        "eczeem bij mijn baby van 5 maanden, ze krabt zich open",  # itching, not self-harm
        "mijn mama is verdrietig want opa is dood",  # "want" is "because", not English "want"
        "de poes heeft rattengif gegeten en is bij de dierenarts",  # a pet
    ],
)
def test_not_a_crisis(text: str) -> None:
    assert detect_crisis(text) is None


def test_benign_part_does_not_hide_a_crisis() -> None:
    text = "ik ben doodmoe en ik wil niet meer leven"
    assert detect_crisis(text) == CrisisMatch("suicide", "suicidaal_ouder", "sui_not_live_ik")
    assert not is_benign_figure_of_speech(text)
    assert not is_benign_figure_of_speech("mijn dochter van 9 zegt 'ik wil dood'")
    assert not is_benign_figure_of_speech("mijn dochter van 3 wil niet slapen")


def test_child_wanting_to_die_in_anger_is_a_crisis() -> None:
    result = detect_crisis("mijn zoon van 10 riep in zijn driftbui dat hij dood wil")
    assert result is not None and result.signal == "suicide"


def test_teenager_threat_is_geweld_but_young_child_is_not() -> None:
    teen = detect_crisis("mijn zoon van 16 zei tegen zijn vader: ik maak je af")
    assert teen is not None and teen.signal == "geweld"
    assert detect_crisis("mijn zoon van 6 zei tegen zijn vader: ik maak je af") is None


@pytest.mark.parametrize(
    "text, signal",
    [
        # medisch_acuut outranks suicide: pills swallowed now
        ("ze wil dood en heeft net 30 pillen ingenomen", "medisch_acuut"),
        # suicide outranks geweld
        ("mijn vader slaat me en ik wil dood", "suicide"),
        # a parent's own harm to the child: ouder_acuut, not geweld
        ("ik heb mijn zoon geslagen", "ouder_acuut"),
        # another adult's harm: geweld
        ("mijn vriend heeft mijn zoon geslagen", "geweld"),
        # a parent at breaking point while another adult is violent: geweld outranks
        ("ik kan niet meer, mijn man slaat de kinderen", "geweld"),
        # shaking with signs of injury: medisch_acuut
        ("ik heb de baby geschud en nu reageert hij niet", "medisch_acuut"),
    ],
)
def test_priority(text: str, signal: str) -> None:
    result = detect_crisis(text)
    assert result is not None and result.signal == signal, result


def test_fever_only_in_babies_under_3_months() -> None:
    assert detect_crisis("baby van 6 weken heeft 38,2")
    assert detect_crisis("mijn baby van 2 maanden heeft koorts")
    assert detect_crisis("baby van 10 weken 37,8") is None
    assert detect_crisis("baby van 5 maanden heeft 38,2") is None
    assert detect_crisis("mijn baby heeft koorts") is None
    assert detect_crisis("baby van 4 weken, geen koorts, wel verkouden") is None


# ----------------------------------------------------------------------------- bad input, privacy


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", None, 42, b"ik wil dood", ["ik wil dood"], "\x00\x01\x02"])
def test_bad_input_returns_none(bad) -> None:
    assert detect_crisis(bad) is None  # type: ignore[arg-type]
    assert is_benign_figure_of_speech(bad) is False  # type: ignore[arg-type]


def test_bad_lemmas_are_ignored() -> None:
    assert detect_crisis("ik wil dood", lemmas=[None, 3, b"x"]).signal == "suicide"  # type: ignore[list-item]
    assert detect_crisis("ik wil dood", lemmas="not a list").signal == "suicide"  # type: ignore[arg-type]
    assert detect_crisis("hij slaat haar", lemmas=["hij", "slaan", "haar"]) is None


def test_lemmas_help_without_being_needed() -> None:
    # "sloegen" is not spelled out in the patterns' victim rule; the lemma "slaan" is
    assert detect_crisis("mijn man sloeg de kinderen") is not None
    assert detect_crisis("de kinderen werden mishandeld", ["de", "kind", "worden", "mishandelen"]).signal == "geweld"


def _timed(text: str) -> Tuple[Optional[CrisisMatch], float]:
    start = time.perf_counter()
    result = detect_crisis(text)
    return result, time.perf_counter() - start


def test_one_megabyte_of_text_is_fast() -> None:
    random.seed(7)
    words = "ik kan niet meer slaan pijn dood bang koorts baby hem haar mijn man zoon de het".split()
    texts = {
        "repeated prose": ("Mijn zoon van 4 slaapt slecht en eet weinig groente. " * 25_000)[:1_000_000],
        "trigger words": " ".join(random.choice(words) for _ in range(250_000))[:1_000_000],
        "random words": " ".join("".join(random.choice("abcdefghijklmnopqrstuvwxyz")
                                         for _ in range(random.randint(2, 9)))
                                 for _ in range(180_000))[:1_000_000],
        "binary garbage": bytes(random.getrandbits(8) for _ in range(1_000_000)).decode("latin-1"),
        "unicode garbage": "".join(chr(random.randint(1, 0xD7FF)) for _ in range(1_000_000)),
        "html": ("<div class='a'><p>mijn zoon &amp; ik <b>slapen</b> slecht</p></div>\n" * 20_000)[:1_000_000],
    }
    detect_crisis("warm up")
    for name, text in texts.items():
        assert len(text) >= 900_000
        _, seconds = _timed(text)
        assert seconds < 0.5, f"{name}: {seconds:.3f}s"
    # a crisis at the end of a long pasted text is still found
    tail = ("Mijn zoon van 4 slaapt slecht. " * 30_000) + "Mijn dochter wil dood."
    assert detect_crisis(tail) == CrisisMatch("suicide", "suicidaal_kind", "sui_want_die")


def test_normal_message_well_under_one_millisecond() -> None:
    messages = ["mijn dochter van 3 wil niet slapen", "hoe krijg ik mijn zoon van 2 zindelijk?",
                "Mijn zoon van 14 zit de hele dag op zijn telefoon, hoe pak ik dat aan?",
                "ik ben doodmoe, hij slaapt nooit door"]
    detect_crisis("warm up")
    medians = []
    for message in messages:
        times = [_timed(message)[1] for _ in range(50)]
        medians.append(statistics.median(times))
    print(f"\nmedian per normal message: {max(medians) * 1000:.3f} ms (slowest of {len(messages)})")
    assert max(medians) < 0.001, medians


def test_crisis_match_never_contains_message_text() -> None:
    fields = [f.name for f in dataclasses.fields(CrisisMatch)]
    assert fields == ["signal", "situation", "rule"]
    rule_ids = {r[0] for r in crisis.rules()}
    for item in CRISIS_ITEMS:
        for text in _item_turns(item):
            result = detect_crisis(text)
            if result is None:
                continue
            assert result.signal in SIGNALS
            assert SITUATIONS[result.situation] == result.signal
            assert result.rule in rule_ids  # an id from crisis.yml, nothing derived from the text
            assert text not in repr(result)
    marker = "Pietje-Puk-uit-Noorderwijk"
    match = detect_crisis(f"{marker} zegt dat hij dood wil")
    assert match is not None and marker.lower() not in repr(match).lower()
    match = detect_crisis("ik wil dood")
    with pytest.raises(dataclasses.FrozenInstanceError):
        match.rule = "x"  # type: ignore[misc, union-attr]


def test_no_message_text_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = "Jantje-van-de-Akkers"
    texts = [f"{secret} zegt dat hij dood wil", f"{secret} " * 10_000, f"{secret} slaat de kinderen"]
    with caplog.at_level(logging.DEBUG, logger="bot.domain.crisis"):
        for text in texts:
            detect_crisis(text)
            is_benign_figure_of_speech(text)
    for record in caplog.records:
        assert secret.lower() not in record.getMessage().lower()


# ----------------------------------------------------------------------------- held back
# Three small held-back lists, written by the detector's author (so not independent of it):
# tests/data/crisis_held_back.yml (their first runs are recorded there), read through
# tests/support/held_back.py. tests/e2e/test_e2e_crisis.py runs them through the whole NLU.


def _held_back(name: str, crisis_items: List[Tuple[str, str]], near: List[str]) -> Tuple[float, int, str]:
    crisis_results = [(signal, detect_crisis(text)) for text, signal in crisis_items]
    detected = [r for r in crisis_results if r[1] is not None]
    right = [r for r in detected if r[1].signal == r[0]]
    false = [r for r in (detect_crisis(t) for t in near) if r is not None]
    recall = len(detected) / len(crisis_items)
    summary = (f"{name}: recall {recall:.0%} ({len(detected)}/{len(crisis_items)}), right signal "
               f"{len(right)}/{len(crisis_items)}, false crisis {len(false)}/{len(near)}")
    print("\n" + summary)
    for signal, result in crisis_results:
        if result is None or result.signal != signal:
            print(f"  {name} crisis {signal}: got {result}")
    for result in false:
        print(f"  {name} near-miss flagged: {result}")
    return recall, len(false), summary


def test_held_back_1_regression_guard() -> None:
    recall, false, summary = _held_back("held-back 1", HELD_BACK_1_CRISIS, HELD_BACK_1_NEAR_MISS)
    assert recall >= 0.8, summary
    assert false <= 2, summary


def test_held_back_2_regression_guard() -> None:
    recall, false, summary = _held_back("held-back 2", HELD_BACK_2_CRISIS, HELD_BACK_2_NEAR_MISS)
    assert recall >= 0.6, summary
    assert false <= 2, summary


def test_held_back_3_regression_guard() -> None:
    # Blind run of the patterns alone: 60% (12/20). The patterns are one of two routes; the whole
    # NLU (patterns + classifier) is measured on all held-back lists in tests/e2e/test_e2e_crisis.py.
    recall, false, summary = _held_back("held-back 3", HELD_BACK_3_CRISIS, HELD_BACK_3_NEAR_MISS)
    assert recall >= 0.6, summary
    assert false <= 4, summary  # guard against a collapse; the target is the main set's 3%
