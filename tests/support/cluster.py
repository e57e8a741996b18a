"""Two Rasa servers and one action server on one PostgreSQL database and one Redis (a helper
module, not a conftest): the production set-up of deploy/, on this machine.

- PostgreSQL: a fresh database ``opv_scale_<random>`` on ``SCALE_PG_URL`` (default
  ``postgresql://postgres@127.0.0.1:5432/postgres``), dropped after the run.
- Redis: a private ``redis-server`` on a free port when the binary is installed (so the fault
  tests can stop it without touching anyone else's Redis), else the shared one at 127.0.0.1:6379
  on a database that was empty.
- RabbitMQ (when reachable): the anonymous statistics broker publishes to a queue of this run.

``cluster_fixture`` is shared by tests/e2e/test_scale.py and tests/e2e/test_faults.py: the servers start
once per test session, on first use, and stop when the last user is done.
"""
from __future__ import annotations

import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot import serve, settings

ROOT = settings.PROJECT_ROOT
MODEL = ROOT / "models" / "opvoedmaatje.tar.gz"
PG_ADMIN_URL = os.environ.get("SCALE_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SHARED_REDIS = ("127.0.0.1", 6379)
AMQP_URL = os.environ.get("SCALE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
# A dead server's ticket lock is given up after this many seconds (Rasa's default is 60).
TICKET_LOCK_LIFETIME = "20"
TRACKER_STORE_TYPE = "bot.rasa.tracker_store.ResilientSQLTrackerStore"
EVENT_BROKER_SECTION = """
event_broker:
  type: bot.rasa.stats_broker.AnonymousStatsBroker
  url: ${EVENT_BROKER_URL}
  queue: ${EVENT_BROKER_QUEUE}
  exchange: ${EVENT_BROKER_EXCHANGE}
  hash_key: ${STATS_HASH_KEY}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ok(url: str, timeout: float = 3) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def pg_url(database: str) -> str:
    parts = urlsplit(PG_ADMIN_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def why_not_runnable() -> Optional[str]:
    """The reason the cluster cannot run here, or None."""
    parts = urlsplit(PG_ADMIN_URL)
    if not reachable(parts.hostname or "127.0.0.1", parts.port or 5432):
        return f"PostgreSQL is not reachable at {parts.hostname}:{parts.port or 5432} (SCALE_PG_URL)"
    if not shutil.which("redis-server") and not reachable(*SHARED_REDIS):
        return "Redis is not reachable at 127.0.0.1:6379 and redis-server is not installed"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed"
    return None


def _admin():  # type: ignore[no-untyped-def]
    import psycopg2

    connection = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
    connection.autocommit = True
    return connection


def create_database(name: str) -> None:
    connection = _admin()  # not `with connection`: psycopg2 would open a transaction block
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def drop_database(name: str) -> None:
    connection = _admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()


@dataclass
class RedisServer:
    """A private redis-server (no persistence) that the fault tests may stop and start."""

    port: int
    log: Path
    process: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 10) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        output = open(self.log, "ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not reachable("127.0.0.1", self.port, 0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {self.log}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _free_shared_redis_db() -> int:
    import redis

    empty = [db for db in range(2, 15) if redis.Redis(*SHARED_REDIS, db=db, socket_timeout=2).dbsize() == 0]
    if not empty:
        raise RuntimeError("no empty Redis database left on 127.0.0.1:6379")
    return random.choice(empty)


@dataclass
class Cluster:
    """Rasa servers ``rasa[0]`` and ``rasa[1]`` (REST + API) and one action server."""

    run_id: str
    token: str
    env: Dict[str, str]
    log_dir: Path
    database: str
    endpoints: Path
    redis: Optional[RedisServer]
    stats_queue: Optional[str]
    rasa: List[serve.Supervisor] = field(default_factory=list)
    actions: Optional[serve.Supervisor] = None
    ports: List[str] = field(default_factory=list)

    # ------------------------------------------------------------ processes

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def _rasa_service(self, i: int) -> serve.Service:
        env = {**self.env, "RASA_PORT": self.ports[i]}
        service = next(s for s in serve.services(MODEL, env, self.token) if s.name == "rasa")
        argv = list(service.argv)
        argv[argv.index("--endpoints") + 1] = str(self.endpoints)
        return serve.Service(f"rasa{i}", argv, service.health_url, service.describe, service.extra_env)

    def start_rasa(self, i: int) -> None:
        """Start Rasa server i (without waiting: see wait_ready)."""
        service = self._rasa_service(i)
        supervisor = serve.Supervisor([service], {**self.env, "RASA_PORT": self.ports[i]}, log_dir=self.log_dir)
        supervisor.start()
        if len(self.rasa) > i:
            self.rasa[i] = supervisor
        else:
            self.rasa.append(supervisor)

    def start_actions(self) -> None:
        service = next(s for s in serve.services(MODEL, self.env, self.token) if s.name == "actions")
        self.actions = serve.Supervisor([service], self.env, log_dir=self.log_dir)
        self.actions.start()

    def stop_actions(self) -> None:
        if self.actions is not None:
            self.actions.stop(grace=5)

    def actions_up(self) -> bool:
        return self.actions is not None and self.actions.failed() is None and ok(self.actions.services[0].health_url)

    def kill(self, i: int) -> None:
        """kill -9 of Rasa server i (its whole process group)."""
        process = self.rasa[i].processes[f"rasa{i}"]
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)

    def rasa_up(self, i: int) -> bool:
        return self.rasa[i].failed() is None and ok(f"{self.url(i)}/status?token={self.token}")

    def wait_ready(self, timeout: float = 400) -> None:
        """Wait for every server; a dead one is restarted once."""
        deadline = time.monotonic() + timeout
        if self.actions is None or self.actions.failed():
            self.start_actions()
        for i in range(len(self.rasa)):
            if self.rasa[i].failed():
                self.start_rasa(i)
        for supervisor in [self.actions, *self.rasa]:
            assert supervisor is not None
            supervisor.wait_ready(timeout=max(1.0, deadline - time.monotonic()))

    def stop(self) -> None:
        for supervisor in [*self.rasa, self.actions]:
            if supervisor is not None:
                supervisor.stop(grace=10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    # ------------------------------------------------------------ stores

    def db(self):  # type: ignore[no-untyped-def]
        import psycopg2

        connection = psycopg2.connect(pg_url(self.database), connect_timeout=5)
        connection.autocommit = True
        return connection

    def stored_events(self, sender: str) -> List[Dict[str, object]]:
        """The tracker's events as stored in PostgreSQL, in insertion order."""
        import json

        connection = self.db()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT id, type_name, timestamp, data FROM events WHERE sender_id = %s ORDER BY id",
                               (sender,))
                return [{"id": row[0], "type": row[1], "timestamp": row[2], **json.loads(row[3])}
                        for row in cursor.fetchall()]
        finally:
            connection.close()


def _endpoints_file(tmp: Path) -> Path:
    """The project's endpoints.yml; until it has them, with the statistics broker and the
    restart-safe tracker store (bot/rasa/tracker_store.py) put in."""
    project = ROOT / "endpoints.yml"
    text = project.read_text(encoding="utf-8")
    changed = text
    if "event_broker:" not in changed:
        changed = changed.rstrip() + "\n" + EVENT_BROKER_SECTION
    changed = re.sub(r"(tracker_store:\s*\n\s*type:\s*)SQL\b", r"\g<1>" + TRACKER_STORE_TYPE, changed)
    if changed == text:
        return project
    copy = tmp / "endpoints.yml"
    copy.write_text(changed, encoding="utf-8")
    return copy


def start_cluster(tmp: Path) -> Cluster:
    reason = why_not_runnable()
    if reason:
        pytest.skip(f"scale/fault tests need PostgreSQL and Redis: {reason}")
    if not MODEL.is_file():
        pytest.fail(f"No trained model at {MODEL}: run `make train` (make test does this first).")
    run_id = uuid.uuid4().hex[:10]
    database = f"opv_scale_{run_id}"
    create_database(database)
    redis_server: Optional[RedisServer] = None
    if shutil.which("redis-server"):
        redis_server = RedisServer(free_port(), tmp / "redis.log")
        redis_server.start()
        redis_host, redis_port, redis_db = "127.0.0.1", redis_server.port, 1
    else:
        redis_host, redis_port = SHARED_REDIS
        redis_db = _free_shared_redis_db()
    stats_queue = f"opv_scale_{run_id}" if reachable("127.0.0.1", 5672) else None
    token = secrets.token_urlsafe(16)
    action_port = str(free_port())
    env = serve.runtime_env({
        "ACTION_PORT": action_port,
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "TRACKER_STORE_URL": pg_url(database),
        "LOCK_STORE_TYPE": "redis",
        "REDIS_HOST": redis_host,
        "REDIS_PORT": str(redis_port),
        "REDIS_DB": str(redis_db),
        "RASA_AUTH_TOKEN": token,
        "CASE_STORE_URL": f"sqlite:///{tmp / 'cases.db'}",
        "TICKET_LOCK_LIFETIME": TICKET_LOCK_LIFETIME,
        "EVENT_BROKER_URL": AMQP_URL if stats_queue else "",
        "EVENT_BROKER_QUEUE": stats_queue or "opvoedmaatje_stats",
        "EVENT_BROKER_EXCHANGE": f"opv-scale-{run_id}" if stats_queue else "opvoedmaatje-stats",
        "STATS_HASH_KEY": secrets.token_hex(16),
        "SANIC_REQUEST_TIMEOUT": "120",
        "SANIC_RESPONSE_TIMEOUT": "120",
    })
    # bot.settings may not know the broker's settings yet: Rasa needs every ${VAR} set
    for key in ("EVENT_BROKER_URL", "EVENT_BROKER_QUEUE", "EVENT_BROKER_EXCHANGE", "STATS_HASH_KEY"):
        env.setdefault(key, "")
    cluster = Cluster(run_id, token, env, tmp / "logs", database, _endpoints_file(tmp), redis_server, stats_queue,
                      ports=[str(free_port()), str(free_port())])
    try:
        serve.prepare(env)
        cluster.start_actions()
        cluster.start_rasa(0)
        cluster.start_rasa(1)
        cluster.wait_ready(timeout=420)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    try:
        cluster.stop()
    finally:
        try:
            drop_database(cluster.database)
        finally:
            if cluster.redis is not None:
                cluster.redis.stop()
            if cluster.stats_queue:
                _delete_stats_queue(cluster)


def _delete_stats_queue(cluster: Cluster) -> None:
    import asyncio

    async def delete() -> None:
        import aio_pika

        connection = await aio_pika.connect(AMQP_URL, timeout=5)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(cluster.stats_queue)
            await channel.exchange_delete(cluster.env["EVENT_BROKER_EXCHANGE"])

    try:
        asyncio.run(delete())
    except Exception:  # RabbitMQ gone: nothing to clean up
        pass


_SHARED: Dict[str, object] = {"cluster": None, "users": 0}


def cluster_fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Body of the session fixtures of test_scale.py and test_faults.py: one cluster for both."""
    if _SHARED["cluster"] is None:
        _SHARED["cluster"] = start_cluster(tmp_path_factory.mktemp("cluster"))
    _SHARED["users"] = int(_SHARED["users"]) + 1  # type: ignore[arg-type]
    cluster: Cluster = _SHARED["cluster"]  # type: ignore[assignment]
    try:
        yield cluster
    finally:
        _SHARED["users"] = int(_SHARED["users"]) - 1  # type: ignore[arg-type]
        if _SHARED["users"] == 0:
            _SHARED["cluster"] = None
            stop_cluster(cluster)
