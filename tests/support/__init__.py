"""Shared helpers of the tests (not tests themselves): servers and stand-ins, fixtures loaded by
tests/conftest.py (``pytest_plugins``), and the data and functions more than one test module uses."""
