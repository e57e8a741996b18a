"""Everything Rasa loads by dotted path from config.yml (``nlu``), credentials.yml (``channels``,
``api_guard``) and endpoints.yml (``tracker_store``, ``stats_broker``, ``insight_broker``, ``nlg``),
and ``patches``: every patch of a Rasa internal, in one guarded place (issue 16, item 4)."""
