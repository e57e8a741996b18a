"""Insight for the municipality (issue 18): anonymous demand per topic, phase, level and
neighbourhood from the statistics records of ``bot.rasa.stats_broker``, and the gaps in the offer.

- ``labels``: the fixed labels an aggregate may hold;
- ``sink``: turns statistics records into daily aggregates, each record exactly once;
- ``consume``: the consumer process (RabbitMQ -> sink, acknowledged after the commit);
- ``local``: the same without a broker, in the Rasa server's process;
- ``suppress``: every cell under 5 hidden, with complementary suppression;
- ``report``: the tables, charts, gaps, CSV and monthly summary of the console page;
- ``demo``: ``make demo-data``, a month for Voorbeeldstad through the real assistant.
"""
