"""``make audit``: the pins of constraints.txt, checked against known vulnerabilities.

    python deploy/audit.py pins [--offline] [--index URL] constraints.txt
        every pin with its release date (PyPI's JSON API, when reachable). Offline, or when the
        index does not answer, the pins are listed without dates and the output says so: an
        installed distribution's metadata carries no release date.

    python deploy/audit.py run --db FILE [--pip-audit PATH] constraints.txt
        pip-audit over the pins (``--no-deps --disable-pip``: no resolver, no index), with its OSV
        service pointed at a local server that answers from FILE, so nothing leaves this machine.
        FILE holds OSV records: a .zip of JSON records (osv.dev's ``PyPI/all.zip``), a directory
        of .json / .yaml records (a checkout of github.com/pypa/advisory-database), or one .json
        file (a record, a list of records, or ``{"vulns": [...]}``). Exit code: pip-audit's
        (1 when a pin has a known vulnerability).

Standard library only, apart from ``packaging`` (and ``yaml`` for YAML records).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

DEFAULT_INDEX = "https://pypi.org"
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;#]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> List[Tuple[str, str]]:
    """``(name, version)`` of every ``name==version`` line, in file order."""
    pins = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line.split("#", 1)[0])
        if match:
            pins.append((match.group(1), match.group(2)))
    return pins


# ---------------------------------------------------------------- pins with release dates


def release_date(name: str, version: str, index: str, timeout: float = 5.0) -> Optional[str]:
    """The day the first file of this release was uploaded, from the index's JSON API."""
    url = f"{index.rstrip('/')}/pypi/{canonical(name)}/{version}/json"
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - an https/http index
        data = json.load(answer)
    stamps = [f.get("upload_time_iso_8601") or f.get("upload_time") for f in data.get("urls") or []]
    stamps = sorted(s for s in stamps if isinstance(s, str) and s)
    return stamps[0][:10] if stamps else None


def list_pins(constraints: Path, offline: bool, index: str, out: Any = sys.stdout) -> int:
    pins = read_pins(constraints)
    width = max((len(f"{n}=={v}") for n, v in pins), default=0)
    reachable = not offline
    unknown = 0
    for name, version in pins:
        date = None
        if reachable:
            try:
                date = release_date(name, version, index)
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    reachable = False
            except (urllib.error.URLError, OSError, ValueError):
                reachable = False  # offline: do not wait for every pin
        unknown += date is None
        print(f"{name}=={version}".ljust(width) + f"  {date or 'release date unknown'}", file=out)
    print(f"{len(pins)} pins in {constraints}.", file=out)
    if offline or not reachable:
        print("Release dates could not be found offline (the index was not asked or did not answer; "
              "installed packages carry no release date): pins listed without them.", file=out)
    elif unknown:
        print(f"{unknown} release date(s) not found on {index}.", file=out)
    print("For known vulnerabilities: make audit DB=path/to/osv-records (README, Configuration).", file=out)
    return 0


# ---------------------------------------------------------------- an OSV query service from a file


def _records_in(data: Any) -> Iterable[Dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("vulns"), list):
        data = data["vulns"]
    if isinstance(data, dict):
        data = [data]
    return [r for r in data if isinstance(r, dict) and r.get("id")] if isinstance(data, list) else []


def load_records(db: Path) -> List[Dict[str, Any]]:
    """The OSV records of a database file (.zip or .json) or directory (.json / .yaml)."""
    def parse(name: str, text: bytes) -> Iterable[Dict[str, Any]]:
        if name.endswith((".yaml", ".yml")):
            import yaml

            return _records_in(yaml.safe_load(text))
        return _records_in(json.loads(text))

    records: List[Dict[str, Any]] = []
    if db.is_dir():
        for path in sorted(db.rglob("*")):
            if path.suffix in (".json", ".yaml", ".yml") and path.is_file():
                records.extend(parse(path.name, path.read_bytes()))
    elif zipfile.is_zipfile(db):
        with zipfile.ZipFile(db) as archive:
            for name in archive.namelist():
                if name.endswith((".json", ".yaml", ".yml")):
                    records.extend(parse(name, archive.read(name)))
    else:
        records.extend(parse(db.name, db.read_bytes()))
    return records


def _affects(affected: Dict[str, Any], version: str) -> bool:
    from packaging.version import InvalidVersion, Version

    if version in (affected.get("versions") or []):
        return True
    try:
        wanted = Version(version)
    except InvalidVersion:
        return False
    for range_ in affected.get("ranges") or []:
        if range_.get("type") != "ECOSYSTEM":
            continue
        inside = False
        for event in range_.get("events") or []:
            try:
                if "introduced" in event:
                    inside = event["introduced"] == "0" or wanted >= Version(event["introduced"])
                elif "fixed" in event and inside and wanted >= Version(event["fixed"]):
                    inside = False
                elif "last_affected" in event and inside and wanted > Version(event["last_affected"]):
                    inside = False
            except InvalidVersion:
                continue
        if inside:
            return True
    return False


class OsvIndex:
    def __init__(self, records: List[Dict[str, Any]]) -> None:
        self.by_name: Dict[str, List[Tuple[Dict[str, Any], Dict[str, Any]]]] = {}
        for record in records:
            if record.get("withdrawn"):
                continue
            for affected in record.get("affected") or []:
                package = affected.get("package") or {}
                if package.get("ecosystem") == "PyPI" and package.get("name"):
                    self.by_name.setdefault(canonical(package["name"]), []).append((record, affected))

    def query(self, name: str, version: str) -> List[Dict[str, Any]]:
        found, seen = [], set()
        for record, affected in self.by_name.get(canonical(name), []):
            if record["id"] not in seen and _affects(affected, version):
                seen.add(record["id"])
                found.append(record)
        return found


def serve_osv(index: OsvIndex) -> ThreadingHTTPServer:
    """A local server answering OSV's ``POST /v1/query`` from ``index`` (started in a thread)."""
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                package = body.get("package") or {}
                vulns = index.query(str(package.get("name") or ""), str(body.get("version") or ""))
                payload, status = json.dumps({"vulns": vulns} if vulns else {}).encode(), 200
            except (ValueError, AttributeError):
                payload, status = b'{"message": "bad request"}', 400
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, name="osv-file", daemon=True).start()
    return server


def run_pip_audit(constraints: Path, db: Path, pip_audit: str) -> int:
    records = load_records(db)
    if not records:
        print(f"No OSV records found in {db}.", file=sys.stderr)
        return 2
    server = serve_osv(OsvIndex(records))
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    print(f"pip-audit over {constraints} against {len(records)} records of {db} (offline).", flush=True)
    try:
        with tempfile.TemporaryDirectory() as cache:
            return subprocess.run([pip_audit, "-r", str(constraints), "--no-deps", "--disable-pip",
                                   "-s", "osv", "--osv-url", url, "--cache-dir", cache,
                                   "--progress-spinner", "off"]).returncode
    finally:
        server.shutdown()
        server.server_close()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pins = commands.add_parser("pins", help="list the pins with their release dates")
    pins.add_argument("constraints", type=Path)
    pins.add_argument("--offline", action="store_true", help="do not ask the index")
    pins.add_argument("--index", default=DEFAULT_INDEX)
    run = commands.add_parser("run", help="pip-audit against a vulnerability database file")
    run.add_argument("constraints", type=Path)
    run.add_argument("--db", type=Path, required=True)
    run.add_argument("--pip-audit", default="pip-audit")
    args = parser.parse_args(argv)
    if args.command == "pins":
        return list_pins(args.constraints, args.offline, args.index)
    if not args.db.exists():
        print(f"{args.db} does not exist.", file=sys.stderr)
        return 2
    return run_pip_audit(args.constraints, args.db, args.pip_audit)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
