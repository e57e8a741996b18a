"""Speed-ups of Rasa internals on the message path, found by profiling (``make bench``).

``install_cached_action_validation``: Rasa 3.6 checks every action server response with
``jsonschema.validate(result, schema)``, which validates the (large) events schema against its
meta-schema and builds a new validator with a new ref resolver on every call. On the Rasa server
that was about 20% of all CPU time under load (reports/bench-*.md). The replacement builds the
validator once and validates every response the same way, with the same error on bad input.
It is installed when the Rasa server imports the project's channels (bot/channels/__init__.py).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

_INSTALLED = False


@lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate would do on every call
    return cls(schema)


def validate_action_result(result: Dict[str, Any]) -> bool:
    """What ``RemoteAction._validate_action_result`` does, with a validator built once."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_action_response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from "
            f"the Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install_cached_action_validation() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    from rasa.core.actions.action import RemoteAction

    def _validate(self: RemoteAction, result: Dict[str, Any]) -> bool:
        return validate_action_result(result)

    RemoteAction._validate_action_result = _validate
    _INSTALLED = True
