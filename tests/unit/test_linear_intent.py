"""The intent classifier (bot/rasa/nlu/linear_intent.py) as a Rasa graph component, without a server:
trained, persisted in Rasa's model storage, loaded back and run on new messages."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa.nlu.linear_intent import (MODEL_FILE, TRUSTED_TYPES, LinearIntentClassifier, UntrustedModelError,
                                   build_model, ranking_of, single_precision)

EXAMPLES: Dict[str, List[str]] = {
    "topic_slapen": ["slaapt slecht", "wil niet naar bed", "wordt elke nacht wakker", "nachtmerries",
                     "ze slaapt niet door", "mijn zoon wil niet slapen", "valt niet in slaap",
                     "hij komt steeds uit bed"],
    "topic_eten": ["eet slecht", "wil geen groente", "lust niks", "eet alleen pasta", "weigert te eten",
                   "mijn dochter eet bijna niks", "hij wil geen brood", "kieskeurig met eten"],
    "greet": ["hoi", "hallo", "goedemorgen", "hey", "dag", "hallo daar", "goedenavond", "hoi hoi"],
}


def training_data() -> TrainingData:
    return TrainingData([Message.build(text=text, intent=intent)
                         for intent, texts in EXAMPLES.items() for text in texts])


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


def trained(storage: LocalModelStorage, **config: object) -> Resource:
    resource = Resource("linear_intent")
    component = LinearIntentClassifier.create({**LinearIntentClassifier.get_default_config(), **config},
                                              storage, resource, context())
    component.train(training_data())
    return resource


def parse(component: LinearIntentClassifier, *texts: str) -> List[Message]:
    return component.process([Message.build(text=t) for t in texts])


def test_trained_persisted_and_loaded_it_classifies_unseen_misspelt_messages(storage: LocalModelStorage) -> None:
    resource = trained(storage)
    loaded = LinearIntentClassifier.load(LinearIntentClassifier.get_default_config(), storage, resource, context())
    slaap, eten, hallo = parse(loaded, "onze kleine slaapt heel slegt", "mijn zoon eet geen groente", "halloo")
    assert slaap.get("intent")["name"] == "topic_slapen"
    assert eten.get("intent")["name"] == "topic_eten"
    assert hallo.get("intent")["name"] == "greet"


def test_confidences_are_a_sorted_probability_ranking(storage: LocalModelStorage) -> None:
    component = LinearIntentClassifier.load({**LinearIntentClassifier.get_default_config(), "ranking_length": 2},
                                            storage, trained(storage), context())
    [message] = parse(component, "wil niet slapen")
    ranking = message.get("intent_ranking")
    assert len(ranking) == 2
    assert ranking[0] == message.get("intent")
    assert ranking[0]["confidence"] >= ranking[1]["confidence"] > 0
    assert sum(r["confidence"] for r in ranking) <= 1.0 + 1e-6
    assert message.as_dict(only_output_properties=True)["intent"]["name"] == "topic_slapen"


def test_empty_odd_and_huge_texts_get_an_intent_without_error(storage: LocalModelStorage) -> None:
    component = LinearIntentClassifier.load(LinearIntentClassifier.get_default_config(), storage,
                                            trained(storage), context())
    for message in parse(component, "", "🙂🙂", "<b>hoi</b>", "x" * 20_000, "\x00\x01"):
        assert message.get("intent")["name"] in EXAMPLES
        assert 0.0 <= message.get("intent")["confidence"] <= 1.0


def test_a_missing_model_loads_as_a_component_that_leaves_messages_alone(storage: LocalModelStorage) -> None:
    component = LinearIntentClassifier.load(LinearIntentClassifier.get_default_config(), storage,
                                            Resource("never_trained"), context())
    [message] = parse(component, "slaapt slecht")
    assert message.get("intent") is None


def test_one_intent_only_is_not_trained(storage: LocalModelStorage) -> None:
    resource = Resource("one_intent")
    component = LinearIntentClassifier.create(LinearIntentClassifier.get_default_config(), storage, resource, context())
    component.train(TrainingData([Message.build(text="hoi", intent="greet")]))
    assert component.model is None


def test_an_intent_with_one_example_is_left_out_and_the_rest_trains(storage: LocalModelStorage) -> None:
    resource = Resource("lonely")
    component = LinearIntentClassifier.create(LinearIntentClassifier.get_default_config(), storage, resource, context())
    data = training_data().merge(TrainingData([Message.build(text="dag en bedankt", intent="goodbye")]))
    component.train(data)
    assert set(component.model.classes_) == set(EXAMPLES)


@pytest.mark.parametrize("smallest,folds", [(2, 2), (3, 3), (40, 5)])
def test_calibration_folds_never_exceed_the_smallest_intent(smallest: int, folds: int) -> None:
    model = build_model(LinearIntentClassifier.get_default_config(), smallest)
    assert model.named_steps["classifier"].cv == folds


def test_ranking_of_orders_and_cuts() -> None:
    ranking = ranking_of(np.array(["a", "b", "c"]), np.array([0.2, 0.5, 0.3]), 2)
    assert [r["name"] for r in ranking] == ["b", "c"]
    assert ranking_of(np.array(["a", "b"]), np.array([0.4, 0.6]), 0)[1] == {"name": "a", "confidence": 0.4}


# ---------------------------------------------------------------- issue 15: skops trusts an explicit list


def test_the_trusted_types_are_exactly_those_a_saved_model_holds(storage: LocalModelStorage) -> None:
    import skops.io as sio

    resource = trained(storage)
    with storage.read_from(resource) as model_dir:
        assert sorted(sio.get_untrusted_types(file=model_dir / MODEL_FILE)) == sorted(TRUSTED_TYPES)


def test_the_saved_model_keeps_no_stop_words(storage: LocalModelStorage) -> None:
    # CVE-2024-5206 (scikit-learn < 1.5): stop_words_ can hold training tokens; it is not saved.
    component = LinearIntentClassifier.load(LinearIntentClassifier.get_default_config(), storage,
                                            trained(storage), context())
    for _, vectorizer in component.model.named_steps["features"].transformer_list:
        assert not hasattr(vectorizer, "stop_words_")


UNPICKLED: List[str] = []


class Payload:
    """Stands for a type an attacker smuggles into a model file: records whether it was ever built."""

    def __init__(self) -> None:
        self.note = "payload"

    def __setstate__(self, state: Dict[str, str]) -> None:
        UNPICKLED.append("setstate")
        self.__dict__.update(state)


# The old prefix rule ("sklearn.", "numpy.", "scipy.") let numpy.load and sklearn's fetch_openml through.
EXTRAS = {"object": lambda: Payload(), "operator": lambda: __import__("operator").attrgetter("x"),
          "numpy function": lambda: np.load,
          "sklearn function": lambda: __import__("sklearn.datasets").datasets.fetch_openml}


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_a_model_file_with_another_type_is_refused(storage: LocalModelStorage, extra: str) -> None:
    import skops.io as sio

    resource = trained(storage)
    model = LinearIntentClassifier.load(LinearIntentClassifier.get_default_config(), storage, resource,
                                        context()).model
    # The same model, with one more attribute of a type the component never saves.
    model.named_steps["classifier"].extra_ = EXTRAS[extra]()
    with storage.write_to(resource) as model_dir:
        sio.dump(model, model_dir / MODEL_FILE)
        untrusted = set(sio.get_untrusted_types(file=model_dir / MODEL_FILE))
    assert untrusted - set(TRUSTED_TYPES), "the tampered file must hold another type"
    UNPICKLED.clear()
    with pytest.raises(UntrustedModelError, match="never saves"):
        LinearIntentClassifier.load(LinearIntentClassifier.get_default_config(), storage, resource, context())
    assert UNPICKLED == []


def test_single_precision_halves_the_weights_and_keeps_the_confidences() -> None:
    texts = [t for ts in EXAMPLES.values() for t in ts]
    labels = np.array([i for i, ts in EXAMPLES.items() for _ in ts])
    config = LinearIntentClassifier.get_default_config()
    model = build_model(config, 8).fit(texts, labels)
    svms = [c.base_estimator for c in model.named_steps["classifier"].calibrated_classifiers_]
    double_bytes = sum(s.coef_.nbytes for s in svms)
    unseen = ["onze kleine slaapt heel slegt", "mijn zoon eet geen groente", "halloo", ""]
    before = model.predict_proba(unseen)
    single_precision(model)
    assert all(s.coef_.dtype == np.float32 and s.intercept_.dtype == np.float32 for s in svms)
    assert sum(s.coef_.nbytes for s in svms) * 2 == double_bytes
    np.testing.assert_allclose(model.predict_proba(unseen), before, atol=1e-5)
