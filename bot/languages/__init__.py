"""Language detection for parents' messages (issue 17, item 1): ``detect(text, previous)``.

See ``bot/languages/detector.py`` for the rules and ``bot/knowledge/languages.yml`` for their data.
``python -m bot.languages.measure FILE...`` measures it on held-out sets;
``python -m bot.languages.benchmark`` prints its speed.
"""
from bot.languages.detector import Detection, LanguageDetector, Rules, default_detector, detect, load_rules

__all__ = ["Detection", "LanguageDetector", "Rules", "default_detector", "detect", "load_rules"]
