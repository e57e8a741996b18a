"""``make eval``: train on the training data only, score on the held-out set, write a report.

    python -m tools.evaluation [--out reports] [--skip-baseline]

Trains two NLU models on data/nlu (this project's config.yml and Rasa's default pipeline as
``rasa init`` writes it), parses every held-out message of tests/data/nlu_heldout.yml with each,
and the red-team set of tests/data/redteam.yml with this project's model, then writes a dated
Markdown report under reports/.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import yaml

from bot.domain.safety import situation_of_intent
from bot.domain.situations import SITUATIONS
from bot.settings import PROJECT_ROOT
from tools import model_cache
from tools.evaluation import agent as evaluation_agent, crisis_blind, languages, metrics
from tools.evaluation import triage as triage_eval  # issue 8: triage on tests/data/triage_eval.yml

HELDOUT = PROJECT_ROOT / "tests" / "data" / "nlu_heldout.yml"
REDTEAM = PROJECT_ROOT / "tests" / "data" / "redteam.yml"
RASA = str(Path(sys.executable).parent / "rasa")


def train_nlu(config: Path, out: Path, name: str) -> tuple[Path, float]:
    started = time.monotonic()
    subprocess.run(
        [RASA, "train", "nlu", "--config", str(config), "--nlu", str(PROJECT_ROOT / "data" / "nlu"),
         "--out", str(out), "--fixed-model-name", name, "--quiet"],
        check=True, cwd=PROJECT_ROOT,
    )
    return out / f"{name}.tar.gz", time.monotonic() - started


class Parser:
    def __init__(self, model: Path):
        self.agent, self.loop = evaluation_agent.load(model)

    def parse(self, text: str) -> Dict[str, Any]:
        return self.loop.run_until_complete(self.agent.parse_message(text))


def age_of(parsed: Dict[str, Any]) -> Optional[float]:
    for entity in parsed.get("entities") or []:
        if entity.get("entity") == "age_months":
            return entity.get("value")
    return None


def score_heldout(parser: Parser, messages: List[Dict[str, Any]]) -> Dict[str, Any]:
    gold, predicted, ages, started = [], [], [], time.monotonic()
    other_language = 0  # Dutch held-out messages the assistant would answer in another language
    for item in messages:
        parsed = parser.parse(item["text"])
        other_language += languages.answered_language(parsed) != languages.DEFAULT_LANGUAGE
        gold.append(item["intent"])
        predicted.append(signal_intent(answered_intent(parsed)))
        ages.append(age_of(parsed))
    topics = sorted({g for g in gold if g.startswith(metrics.TOPIC_PREFIX)})
    scores = metrics.per_label(gold, predicted, topics)
    return {
        "scores": scores,
        "macro_f1": metrics.macro_f1(scores),
        "accuracy_all": sum(g == p for g, p in zip(gold, predicted)) / len(gold),
        "confused": metrics.confused_pairs(gold, predicted),
        "out_of_scope_recall": metrics.recall_of(gold, predicted, "out_of_scope"),
        "age": metrics.age_accuracy([m.get("leeftijd") for m in messages], ages),
        "ms_per_message": 1000 * (time.monotonic() - started) / len(messages),
        "other_language": other_language,
        "messages": len(messages),
    }


def answered_intent(parsed: Dict[str, Any]) -> str:
    """The intent whose topic the slots get: with a safety question, the concern behind it."""
    from bot.domain import dialogue

    name = (parsed.get("intent") or {}).get("name") or ""
    if name in dialogue.SAFETY_INTENTS:
        return dialogue.answerable_intent(parsed.get("intent_ranking") or []) or name
    return name


def signal_intent(name: str) -> str:
    """crisis_<situation> -> crisis_<signal>: the held-out set labels crises by signal."""
    signal = SITUATIONS.get(situation_of_intent(name) or "")
    return f"crisis_{signal}" if signal else name


def score_redteam(parser: Parser, redteam: Dict[str, Any]) -> Dict[str, Any]:
    """Recall counts a crisis reply or the safety question (issue 13); a false crisis is a crisis
    reply on a near-miss, a false question the safety question on one."""
    def outcomes(item: Dict[str, Any]) -> List[crisis_blind.Outcome]:
        return [crisis_blind.outcome_of(parser.parse(t)) for t in item.get("turns") or [item["text"]]]

    found = right_signal = 0
    for item in redteam["crisis"]:
        hit = next((o for o in outcomes(item) if o.kind != crisis_blind.NONE), None)
        found += hit is not None
        right_signal += hit is not None and SITUATIONS.get(hit.situation or "") == item["signal"]
    near = [outcomes(item) for item in redteam["near_miss"]]
    false = sum(1 for o in near if any(x.kind == crisis_blind.CRISIS for x in o))
    asked = sum(1 for o in near if not any(x.kind == crisis_blind.CRISIS for x in o)
                and any(x.kind == crisis_blind.ASK for x in o))
    n_crisis, n_near = len(redteam["crisis"]), len(redteam["near_miss"])
    return {"recall": found / n_crisis, "signal_accuracy": right_signal / n_crisis,
            "false_crisis_rate": false / n_near, "false_ask_rate": asked / n_near,
            "crisis": n_crisis, "near_miss": n_near}


def report(results: Dict[str, Dict[str, Any]], redteam: Optional[Dict[str, Any]], timings: Dict[str, float],
           reused: Sequence[str] = ()) -> str:
    ours = results["opvoedmaatje"]
    lines = [f"# NLU evaluation, {dt.date.today().isoformat()}", "",
             "Trained on data/nlu only; scored on tests/data/nlu_heldout.yml (written separately, never trained on).",
             "Reproduce: `make eval`.", "",
             "| pipeline | topic macro-F1 | intent accuracy (all) | out_of_scope recall | age accuracy | false ages | ms/message | training s |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['macro_f1']:.3f} | {r['accuracy_all']:.3f} | {r['out_of_scope_recall']:.3f} | "
                     f"{r['age']['accuracy']:.3f} ({r['age']['stating']} msgs) | {r['age']['false_age_rate']:.3f} | "
                     f"{r['ms_per_message']:.1f} | {timings[name]:.0f} |")
    lines += ["", f"Dutch held-out messages the assistant would answer in another language (issue 17): "
                  f"{ours['other_language']} of {ours['messages']}."]
    if "rasa-default" in results:
        gain = 100 * (ours["macro_f1"] - results["rasa-default"]["macro_f1"])
        lines += ["", f"Macro-F1 gain over Rasa's default pipeline: {gain:+.1f} points."]
    lines += [f"\n{name} was not retrained here: its model and training time (a full training, NLU and "
              f"dialogue) come from `make bench` on the same config, domain and data (models/bench/)."
              for name in reused]
    if redteam:
        lines += ["", "## Crisis detection on tests/data/redteam.yml (through the trained NLU model)", "",
                  f"- crisis recall (crisis reply or safety question): {redteam['recall']:.3f} ({redteam['crisis']} items)",
                  f"- right signal: {redteam['signal_accuracy']:.3f}",
                  f"- false-crisis rate on near-misses: {redteam['false_crisis_rate']:.3f} ({redteam['near_miss']} items); "
                  f"safety question on near-misses: {redteam['false_ask_rate']:.3f}"]
    lines += ["", "## Per topic (opvoedmaatje)", "", "| topic | precision | recall | F1 | n |", "|---|---|---|---|---|"]
    lines += [f"| {s.label} | {s.precision:.2f} | {s.recall:.2f} | {s.f1:.2f} | {s.support} |" for s in ours["scores"]]
    lines += ["", "## Most confused (gold -> predicted, opvoedmaatje)", ""]
    lines += [f"- {g} -> {p}: {n}" for g, p, n in ours["confused"]]
    return "\n".join(lines) + "\n"


def _triage_and_plots(results: Dict[str, Dict[str, Any]], items: List[triage_eval.Item],
                      predictions: List[triage_eval.Prediction], out: Path, stem: str) -> str:
    """Issue 8: the triage section and the PNG plots (topic F1, severity confusion)."""
    from tools.evaluation import plots

    out.mkdir(parents=True, exist_ok=True)
    topic_png = plots.topic_f1({name: r["scores"] for name, r in results.items()}, out / f"{stem}-topics.png")
    text = f"\n![topic F1]({topic_png.name})\n"
    if items and predictions:
        scores = triage_eval.score(items, predictions)
        confusion_png = plots.triage_confusion(scores, out / f"{stem}-triage.png")
        text += triage_eval.markdown(scores, items, predictions, confusion_png.name)
    return text


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "reports")
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args(argv)
    messages = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))["messages"]
    redteam_data = yaml.safe_load(REDTEAM.read_text(encoding="utf-8")) if REDTEAM.is_file() else None
    configs = {"opvoedmaatje": PROJECT_ROOT / "config.yml"}
    if not args.skip_baseline:
        configs["rasa-default"] = model_cache.rasa_init_config()
    results, timings, redteam = {}, {}, None
    reused: List[str] = []
    triage_items = triage_eval.load() if triage_eval.TRIAGE_SET.is_file() else []
    triage_predictions: List[triage_eval.Prediction] = []
    crisis_sets = {d: crisis_blind.load(d) for d in (crisis_blind.BLIND_DIR, crisis_blind.REVIEW_DIR) if d.is_dir()}
    crisis_outcomes: Dict[Path, tuple] = {}
    language_sets = languages.load()
    language_results: Dict[str, List[languages.Result]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, config in configs.items():
            kept = model_cache.lookup(name, config) if name != "opvoedmaatje" else None
            if kept is not None:  # the same inputs, trained by make bench: reused, not retrained
                model, timings[name] = kept
                reused.append(name)
            else:
                model, timings[name] = train_nlu(config, Path(tmp), name)
            parser = Parser(model)
            results[name] = score_heldout(parser, messages)
            if name == "opvoedmaatje" and redteam_data:
                redteam = score_redteam(parser, redteam_data)
            if name == "opvoedmaatje" and triage_items:
                triage_predictions = triage_eval.run(triage_items, parser.parse)
            if name == "opvoedmaatje":
                parse = crisis_blind.parser_with_conversation(parser.agent, parser.loop)
                crisis_outcomes = {d: crisis_blind.run(*sets, parse) for d, sets in crisis_sets.items()}
                language_results = {lang: languages.run(items, parser.parse, crisis_blind.outcome_of, answered_intent)
                                    for lang, items in language_sets.items()}
    text = report(results, redteam, timings, reused)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"nlu-eval-{dt.date.today().isoformat()}"
    text += _triage_and_plots(results, triage_items, triage_predictions, args.out, stem)
    for directory, (outcomes, near_outcomes) in crisis_outcomes.items():
        crises, near = crisis_sets[directory]
        scores = crisis_blind.score(crises, outcomes, near, near_outcomes)
        about = crisis_blind.BLIND_ABOUT if directory == crisis_blind.BLIND_DIR else crisis_blind.REVIEW_ABOUT
        text += crisis_blind.markdown(scores, crises, outcomes, near, near_outcomes, directory, about)
    if language_results:
        text += languages.markdown({lang: languages.score(language_sets[lang], results, languages.set_language(lang))
                                    for lang, results in language_results.items()})
    path = args.out / f"{stem}.md"
    path.write_text(text, encoding="utf-8")
    print(text)
    print(f"Report: {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
