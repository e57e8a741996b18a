"""Rasa intent classifier: a linear SVM on TF-IDF character and word n-grams, with calibrated
confidences (scikit-learn).

Why not DIET: on the held-out parent messages (``make eval``) DIET on the same data reached a
topic macro-F1 of about 0.87-0.89, with or without transformer layers, while this linear model
reaches about 0.95, trains in seconds instead of minutes and answers in well under a millisecond.
Parents' messages are short, informal and misspelt: character n-grams within words
(``char_wb`` 2-5) carry most of the signal, word uni- and bigrams the rest, and sublinear TF-IDF
keeps a repeated word from drowning the others.

Confidences are probabilities from ``CalibratedClassifierCV`` (sigmoid, k-fold), so the
FallbackClassifier threshold and the crisis detector's ``classifier_threshold`` mean what they
say. The text is read as typed (the vectorizers lowercase it); nothing else in the pipeline is
needed before this component.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

logger = logging.getLogger(__name__)

MODEL_FILE = "linear_intent.skops"

# The types of a saved model that skops does not trust by itself (its own default list covers the
# scikit-learn estimators of build_model, numpy and the builtins), exactly as
# ``skops.io.get_untrusted_types`` lists them for a model this component saved (checked by
# tests/unit/test_linear_intent.py). A model file with any other type is refused before anything in
# it is loaded: a model is only ever written by ``persist`` below.
TRUSTED_TYPES = (
    "scipy.sparse._csr.csr_matrix",  # TfidfTransformer's idf diagonal
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)


class UntrustedModelError(RuntimeError):
    """A model file holds a type outside TRUSTED_TYPES: it is not loaded, the model does not start."""


def build_model(config: Dict[Text, Any], smallest_class: int) -> Pipeline:
    """The untrained scikit-learn pipeline for ``config``; folds limited by the smallest intent."""
    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(config["char_ngrams"]),
                                  sublinear_tf=True, dtype=np.float32)),
        ("words", TfidfVectorizer(analyzer="word", ngram_range=tuple(config["word_ngrams"]),
                                  sublinear_tf=True, dtype=np.float32)),
    ])
    folds = max(2, min(int(config["calibration_folds"]), smallest_class))
    svm = LinearSVC(C=float(config["C"]), random_state=int(config["random_seed"]))
    return Pipeline([("features", features),
                     ("classifier", CalibratedClassifierCV(svm, cv=folds, method="sigmoid"))])


def drop_stop_words(model: Pipeline) -> None:
    """Remove the vectorizers' ``stop_words_`` before saving, as scikit-learn 1.5 does itself
    (CVE-2024-5206: it can hold training tokens). With this configuration (no min_df, max_df or
    max_features) it is empty, and nothing reads it after fitting."""
    for _, vectorizer in model.named_steps["features"].transformer_list:
        if hasattr(vectorizer, "stop_words_"):
            delattr(vectorizer, "stop_words_")


def single_precision(model: Pipeline) -> None:
    """Keep the SVMs' weights as float32, like the TF-IDF features they multiply: the model (one
    weight per n-gram and intent, for each calibration fold) takes half the memory and disk, and
    the confidences stay the same to about 1e-6."""
    for calibrated in model.named_steps["classifier"].calibrated_classifiers_:
        svm = calibrated.base_estimator
        svm.coef_ = svm.coef_.astype(np.float32)
        svm.intercept_ = svm.intercept_.astype(np.float32)


def load_trusted(path: Path) -> Pipeline:
    """The model saved at ``path``, refused (UntrustedModelError) when it holds a type outside
    TRUSTED_TYPES."""
    import skops.io as sio

    unexpected = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if unexpected:
        raise UntrustedModelError(f"{path} holds types this component never saves, not loaded: "
                                  + ", ".join(unexpected))
    # skops checks again while loading and refuses anything not in the list.
    return sio.load(path, trusted=list(TRUSTED_TYPES))


def ranking_of(classes: np.ndarray, probabilities: np.ndarray, length: int) -> List[Dict[Text, Any]]:
    order = np.argsort(-probabilities, kind="stable")
    if length > 0:
        order = order[:length]
    return [{"name": str(classes[i]), "confidence": float(probabilities[i])} for i in order]


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Intent from a calibrated linear SVM on character and word n-grams of the message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 1.0,
            "char_ngrams": [2, 5],
            "word_ngrams": [1, 2],
            "calibration_folds": 5,
            "ranking_length": 10,
            "random_seed": 7,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "skops"]

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 model: Optional[Pipeline] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LinearIntentClassifier":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        counts = Counter(e.get(INTENT) for e in examples)
        lonely = sorted(name for name, n in counts.items() if n < 2)
        if lonely:  # calibration needs two examples per intent at least
            logger.warning("LinearIntentClassifier: intents with one example are left out: %s", ", ".join(lonely))
            examples = [e for e in examples if counts[e.get(INTENT)] >= 2]
        intents = [e.get(INTENT) for e in examples]
        if len(set(intents)) < 2:
            logger.warning("LinearIntentClassifier: fewer than two intents to train on; not trained")
            return self._resource
        model = build_model(self.config, min(Counter(intents).values()))
        model.fit([e.get(TEXT) for e in examples], np.array(intents))
        drop_stop_words(model)
        single_precision(model)
        self.model = model
        self.persist()
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        if self.model is None:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        probabilities = self.model.predict_proba(texts)
        classes = self.model.classes_
        for message, row in zip(messages, probabilities):
            ranking = ranking_of(classes, row, int(self.config["ranking_length"]))
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as model_dir:
            sio.dump(self.model, model_dir / MODEL_FILE)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LinearIntentClassifier":
        try:
            with model_storage.read_from(resource) as model_dir:
                # Only the types this component itself saves (TRUSTED_TYPES); another one raises.
                model = load_trusted(model_dir / MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("LinearIntentClassifier: no trained model in %s; intents stay empty", resource.name)
            model = None
        return cls(config, model_storage, resource, model)
