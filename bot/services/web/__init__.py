"""The web server: the demo page of 'Gemeente Voorbeeldstad' with the chat (and the console)."""
