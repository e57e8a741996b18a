"""Language detection for parents' messages (issue 17, item 1): ``detect(text, previous)``.

See ``bot/domain/languages/detector.py`` for the rules and ``bot/knowledge/languages.yml`` for their data.
``python -m tools.languages.measure FILE...`` measures it on held-out sets;
``python -m tools.languages.benchmark`` prints its speed.
"""
from bot.domain.languages.detector import Detection, LanguageDetector, Rules, default_detector, detect, load_rules

__all__ = ["Detection", "LanguageDetector", "Rules", "default_detector", "detect", "load_rules"]
