"""The dialogue is decided by rules alone (config.yml has no TEDPolicy): every intent needs one."""
from __future__ import annotations

from typing import Any, Iterator, List

import yaml

from tests.support.paths import ROOT


def rule_intents(steps: List[Any]) -> Iterator[str]:
    for step in steps:
        if "intent" in step:
            yield step["intent"]
        for alternative in step.get("or") or []:
            if "intent" in alternative:
                yield alternative["intent"]


def test_every_intent_of_the_domain_starts_a_rule() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    covered = set()
    for path in sorted((ROOT / "data" / "rules").glob("*.yml")):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8")).get("rules") or []:
            covered.update(rule_intents(rule.get("steps") or []))
    assert len(intents) > 30  # the domain was read
    assert intents - covered == set(), "intents that would only get RulePolicy's fallback"

