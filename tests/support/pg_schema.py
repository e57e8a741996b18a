"""A fresh PostgreSQL schema per test (database `test` on 127.0.0.1:5432), or a skip with the reason."""
from __future__ import annotations

import contextlib
import uuid
from typing import Any, Dict, Iterator, Optional, Tuple
from urllib.parse import quote

import pytest
import sqlalchemy as sa

PG_URLS = ("postgresql://root@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_url() -> Optional[str]:
    for url in PG_URLS:
        try:
            engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            engine.dispose()
            return url
        except Exception:  # noqa: BLE001 - unreachable: the tests skip
            continue
    return None


@contextlib.contextmanager
def fresh_schema(prefix: str) -> Iterator[Tuple[str, str]]:
    """(URL whose connections use only the new schema, schema name); dropped afterwards."""
    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (database 'test')")
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}?options={quote(f'-csearch_path={schema}')}", schema
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def store_urls(backend: str, tmp_path: Any, prefix: str) -> Iterator[Dict[str, str]]:
    """The tracker store's and the case store's URL on one backend ("sqlite" or "postgresql",
    a fresh schema dropped afterwards)."""
    if backend == "sqlite":
        yield {"trackers": f"sqlite:///{tmp_path / 'trackers.db'}", "cases": f"sqlite:///{tmp_path / 'cases.db'}"}
    else:
        with fresh_schema(prefix) as (url, _schema):
            yield {"trackers": url, "cases": url}
