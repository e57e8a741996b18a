"""The deployment files (deploy/) parse and agree with each other and with endpoints.yml.

No Docker engine or cluster runs here, so these checks are what keeps the files honest: YAML
parses, every ${VAR} Rasa needs is configured everywhere, replicas and sticky sessions are there,
Services select the Deployments' pods, and Rasa's HTTP API is never routed publicly.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Set

import pytest
import yaml

from tests.support.paths import ROOT

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"


def load_all(path: Path) -> List[Dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def k8s_docs() -> List[Dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    docs = []
    for name in kustomization["resources"]:
        docs.extend(load_all(K8S / name))
    return docs


def by_kind(kind: str) -> Dict[str, Dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in k8s_docs() if d["kind"] == kind}


def endpoint_vars() -> Set[str]:
    return set(re.findall(r"\$\{(\w+)\}", (ROOT / "endpoints.yml").read_text(encoding="utf-8")))


def env_example() -> Dict[str, str]:
    pairs = {}
    for line in (DEPLOY / "env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


@pytest.mark.parametrize("path", sorted([*DEPLOY.glob("*.yml"), *K8S.glob("*.yaml")]), ids=lambda p: p.name)
def test_yaml_parses(path: Path) -> None:
    assert load_all(path), path


def test_compose_has_every_service_and_two_rasa_servers() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"rasa-1", "rasa-2", "actions", "web", "postgres", "redis", "rabbitmq", "nginx"} <= set(services)
    assert services["actions"]["deploy"]["replicas"] == 2
    for name in ("rasa-1", "rasa-2"):
        command = " ".join(services[name]["command"])
        assert "--endpoints endpoints.yml" in command and "--enable-api" in command
        assert endpoint_vars() <= set(services[name]["environment"]), "Rasa needs every ${VAR} of endpoints.yml"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert services["web"]["command"][0] == "waitress-serve" and "0.0.0.0" in services["web"]["command"]


def test_every_setting_rasa_needs_is_in_the_env_example_and_the_k8s_config() -> None:
    needed = endpoint_vars()
    assert {"TRACKER_STORE_URL", "LOCK_STORE_TYPE", "REDIS_HOST"} <= needed
    example = env_example()
    assert needed - set(example) == set(), "missing in deploy/env.example"
    k8s_keys = set(by_kind("ConfigMap")["opvoedmaatje-config"]["data"])
    secret = load_all(K8S / "secret.example.yaml")[0]
    k8s_keys |= set(secret["stringData"])
    assert needed - k8s_keys == set(), "missing in the k8s ConfigMap/Secret"
    for key in ("SENDER_ID_SECRET", "RASA_AUTH_TOKEN", "RATE_LIMIT_PER_MINUTE", "TICKET_LOCK_LIFETIME",
                "EVENT_BROKER_URL", "STATS_HASH_KEY", "CASE_STORE_URL"):
        assert key in example and key in k8s_keys, key
    assert example["LOCK_STORE_TYPE"] == "redis" and example["TRACKER_STORE_URL"].startswith("postgresql://")


def test_secrets_are_not_in_the_configmap() -> None:
    data = by_kind("ConfigMap")["opvoedmaatje-config"]["data"]
    for key in data:
        assert not re.search(r"SECRET|TOKEN|PASSWORD|_URL$", key) or key in {
            "ACTION_ENDPOINT_URL", "RASA_URL", "RASA_API_URL"}, key


def test_nginx_is_sticky_for_socketio_and_balances_the_rest() -> None:
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert conf.count("{") == conf.count("}")
    upstreams = dict(re.findall(r"upstream (\w+) \{(.*?)\}", conf, re.S))
    assert "ip_hash;" in upstreams["rasa_sticky"]
    for upstream in ("rasa_sticky", "rasa_any"):
        assert re.findall(r"server (rasa-\d):5005", upstreams[upstream]) == ["rasa-1", "rasa-2"]
    socketio = re.search(r"location /socket.io/ \{(.*?)\}", conf, re.S).group(1)
    assert "proxy_pass http://rasa_sticky;" in socketio and "Upgrade $http_upgrade" in socketio
    rest = re.search(r"location = /webhooks/rest/webhook \{(.*?)\}", conf, re.S).group(1)
    assert "proxy_pass http://rasa_any;" in rest
    blocked = re.search(r"location ~ \^/\((conversations[^)]*)\)", conf).group(1).split("|")
    assert {"conversations", "model", "status"} <= set(blocked)
    assert "$request_body" not in conf and "$args" not in conf  # no message text in the logs


def test_k8s_deployments_replicas_and_services_match() -> None:
    deployments = by_kind("Deployment")
    assert deployments["opvoedmaatje-rasa"]["spec"]["replicas"] == 2
    assert deployments["opvoedmaatje-actions"]["spec"]["replicas"] == 2
    assert deployments["opvoedmaatje-web"]["spec"]["replicas"] >= 1
    for name, deployment in deployments.items():
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert refs == {"opvoedmaatje-config"}, name  # secrets: by key only (test below)
    services = by_kind("Service")
    for name, service in services.items():
        matching = [d for d in deployments.values()
                    if service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matching) == 1, name
        ports = {p["name"] for p in matching[0]["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def test_k8s_ingress_is_sticky_for_socketio_and_routes_only_public_paths() -> None:
    ingresses = by_kind("Ingress")
    services = by_kind("Service")
    socketio = ingresses["opvoedmaatje-socketio"]
    assert socketio["metadata"]["annotations"]["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    paths = {}
    for ingress in ingresses.values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                service = path["backend"]["service"]["name"]
                assert service in services
                paths[path["path"]] = service
    assert paths["/socket.io/"] == "opvoedmaatje-rasa"
    assert paths["/webhooks/rest/webhook"] == "opvoedmaatje-rasa"
    assert paths["/"] == "opvoedmaatje-web"
    assert not any(p.startswith(("/conversations", "/model", "/status")) for p in paths)


def test_dockerfile_uses_files_that_exist() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    for name in ("requirements.txt", "constraints.txt", "package.json", "package-lock.json"):
        assert name in dockerfile and (ROOT / name).is_file(), name
    assert "models/opvoedmaatje.tar.gz" in dockerfile
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert ".venv" in ignored and "deploy/.env" in ignored and "models" not in ignored


def test_the_image_and_the_venvs_build_with_current_python_and_pip() -> None:
    # Issue 15: a slim Python 3.10 base at a fixed, current patch release (3.10.20: the CVE fixes of
    # 3.10.14-3.10.20) and, here and in the Makefile, the same pip (26.1.2 or later: CVE-2025-8869,
    # CVE-2026-1703, CVE-2026-6357, CVE-2026-8643).
    from packaging.version import Version

    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    bases = re.findall(r"^FROM python:(\S+)", dockerfile, re.M)
    assert len(bases) == 1 and re.fullmatch(r"3\.10\.\d+-slim-bookworm", bases[0]), bases
    assert Version(bases[0].split("-")[0]) >= Version("3.10.20")
    pip = re.search(r"^PIP_VERSION := (\S+)$", makefile, re.M).group(1)
    assert Version(pip) >= Version("26.1.2")
    assert re.findall(r'"pip==([^"]+)"', dockerfile) == [pip]
    assert "pip<" not in dockerfile and "pip==2" not in makefile  # no other pip anywhere
    assert makefile.count('"pip==$(PIP_VERSION)"') == 2  # the project's venv and pip-audit's


# ---------------------------------------------------------------- issue 15: make audit


def _audit() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("deploy_audit", DEPLOY / "audit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pins() -> List[str]:
    return [line.split("#")[0].strip() for line in (ROOT / "constraints.txt").read_text().splitlines()
            if "==" in line.split("#")[0]]


def test_make_audit_without_a_database_lists_every_pin_offline() -> None:
    import subprocess

    done = subprocess.run(["make", "--no-print-directory", "audit", "OFFLINE=1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    listed = [line.split()[0] for line in done.stdout.splitlines() if "==" in line.split(" ")[0]]
    assert listed == [pin.replace(" ", "") for pin in _pins()]
    assert f"{len(listed)} pins in constraints.txt." in done.stdout
    assert "could not be found offline" in done.stdout


def test_the_pins_get_their_release_dates_from_the_index() -> None:
    import io
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked: List[str] = []

    class Index(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            asked.append(self.path)
            if self.path == "/pypi/aiohttp/3.9.5/json":
                body = json.dumps({"urls": [{"upload_time_iso_8601": "2024-04-16T09:00:00Z"},
                                            {"upload_time_iso_8601": "2024-04-15T22:00:00Z"}]}).encode()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        constraints = ROOT / "var" / "test-audit-constraints.txt"
        constraints.parent.mkdir(exist_ok=True)
        constraints.write_text("# a comment\naiohttp==3.9.5\nSome_Thing.x==1.0 ; python_version >= '3'\n")
        out = io.StringIO()
        _audit().list_pins(constraints, offline=False, index=f"http://127.0.0.1:{server.server_address[1]}", out=out)
    finally:
        server.shutdown()
        server.server_close()
        constraints.unlink()
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["aiohttp==3.9.5", "2024-04-15"]
    assert lines[1].split()[0] == "Some_Thing.x==1.0" and "unknown" in lines[1]
    assert asked == ["/pypi/aiohttp/3.9.5/json", "/pypi/some-thing-x/1.0/json"]
    assert "1 release date(s) not found" in out.getvalue()


OSV_RECORD = {"id": "GHSA-test-0001", "aliases": ["CVE-2099-0001"], "details": "test",
              "affected": [{"package": {"ecosystem": "PyPI", "name": "aiohttp"},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.0"}, {"fixed": "3.10.11"}]}],
                            "versions": ["2.3.10"]}]}


@pytest.mark.parametrize("version,hit", [("3.9.5", True), ("2.3.10", True), ("3.10.11", False), ("2.9", False)])
def test_the_vulnerability_file_is_matched_by_name_and_version(version: str, hit: bool) -> None:
    audit = _audit()
    index = audit.OsvIndex([OSV_RECORD, {**OSV_RECORD, "id": "withdrawn", "withdrawn": "2025-01-01"}])
    assert [r["id"] for r in index.query("AioHTTP", version)] == (["GHSA-test-0001"] if hit else [])


def test_make_audit_with_a_database_runs_pip_audit_offline(tmp_path: Path) -> None:
    import json
    import os
    import shutil
    import subprocess

    pip_audit = os.environ.get("PIP_AUDIT") or shutil.which("pip-audit") or str(ROOT / ".venv" / "pip-audit" / "bin" / "pip-audit")
    if not Path(pip_audit).is_file():
        pytest.skip("pip-audit is not installed (make audit DB=... installs it in .venv/pip-audit)")
    db = tmp_path / "osv.json"
    db.write_text(json.dumps({"vulns": [OSV_RECORD]}))
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("aiohttp==3.9.5\nsix==1.16.0\n")
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), str(DEPLOY / "audit.py"), "run", "--db", str(db),
                           "--pip-audit", pip_audit, str(constraints)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
                               "NO_PROXY": "127.0.0.1"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "CVE-2099-0001" in done.stdout and "3.10.11" in done.stdout


def test_the_rasa_containers_refuse_placeholder_secrets_before_they_start() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    k8s = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "rasa.yaml").read_text(encoding="utf-8")) if d]
    k8s_args = [" ".join(c.get("command", []) + c.get("args", []))
                 for d in k8s if d.get("kind") in ("Deployment", "StatefulSet")
                 for c in d["spec"]["template"]["spec"]["containers"]]
    for command in [" ".join(compose["services"]["rasa-1"]["command"])] + k8s_args:
        assert command.index("python -m bot.settings check &&") < command.index("exec rasa run"), command
    assert "change-me" in env_example()["RASA_AUTH_TOKEN"], "the example is refused until filled in"


# ---------------------------------------------------------------- issue 15: secrets per service, network


# Every value a deployment must keep secret, and which service may have which (README
# "Configuration", bot/settings.py SECRET_SETTINGS): a service that needs a new secret is added here.
SECRET_NAMES = {
    "RASA_AUTH_TOKEN", "REST_TOKEN", "SENDER_ID_SECRET", "SOCKETIO_SESSION_SECRET", "CASE_STORE_KEY",
    "STATS_HASH_KEY", "WEB_SECRET_KEY", "CONSOLE_SECRET_KEY", "TRACKER_STORE_URL", "CASE_STORE_URL",
    "REDIS_PASSWORD", "EVENT_BROKER_URL", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
    "WHATSAPP_ACCESS_TOKEN", "TWILIO_AUTH_TOKEN", "NOTIFY_WEBHOOK_SECRET", "SMTP_PASSWORD",
    "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "RABBITMQ_DEFAULT_PASS", "CONSOLE_ADMIN_PASSWORD",
}
OWN_SECRETS = {
    # channels, tracker store, erasure of cases, WhatsApp reply numbers in the case store, statistics
    "rasa": {"RASA_AUTH_TOKEN", "REST_TOKEN", "SENDER_ID_SECRET", "SOCKETIO_SESSION_SECRET", "TRACKER_STORE_URL",
             "CASE_STORE_URL", "CASE_STORE_KEY", "REDIS_PASSWORD", "EVENT_BROKER_URL", "STATS_HASH_KEY",
             "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_ACCESS_TOKEN", "TWILIO_AUTH_TOKEN",
             "WHATSAPP_PHONE_NUMBER_ID"},  # not a secret, but kept with the account's in the k8s Secret
    # the hand-off: cases, notifications, the limit on new cases
    "actions": {"CASE_STORE_URL", "CASE_STORE_KEY", "REDIS_PASSWORD", "NOTIFY_WEBHOOK_SECRET", "SMTP_PASSWORD"},
    # the console: the Rasa API, cases, its session key, the login throttle
    "web": {"RASA_AUTH_TOKEN", "CASE_STORE_URL", "CASE_STORE_KEY", "WEB_SECRET_KEY", "REDIS_PASSWORD"},
    "purge": {"TRACKER_STORE_URL", "CASE_STORE_URL"},
    # the follow-up worker (issue 19): the Rasa API (to deliver) and the follow-ups in the case store
    "followups": {"RASA_AUTH_TOKEN", "CASE_STORE_URL"},
    # the insight consumer (issue 18): the statistics queue and the aggregates in the case store
    "insight": {"EVENT_BROKER_URL", "CASE_STORE_URL"},
}
# channels and notifications that a municipality may leave off
OPTIONAL = {"WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID",
            "TWILIO_AUTH_TOKEN", "NOTIFY_WEBHOOK_SECRET", "SMTP_PASSWORD"}
NEVER = {  # what each service must not get, whatever else changes
    "rasa": {"WEB_SECRET_KEY", "SMTP_PASSWORD", "NOTIFY_WEBHOOK_SECRET"},
    "actions": {"RASA_AUTH_TOKEN", "REST_TOKEN", "SENDER_ID_SECRET", "WHATSAPP_ACCESS_TOKEN", "WEB_SECRET_KEY",
                "TRACKER_STORE_URL", "EVENT_BROKER_URL"},
    "web": {"REST_TOKEN", "SENDER_ID_SECRET", "WHATSAPP_APP_SECRET", "WHATSAPP_ACCESS_TOKEN", "TRACKER_STORE_URL",
            "EVENT_BROKER_URL", "SMTP_PASSWORD"},
    "purge": {"RASA_AUTH_TOKEN", "CASE_STORE_KEY", "SENDER_ID_SECRET", "WEB_SECRET_KEY", "REDIS_PASSWORD"},
    "followups": {"CASE_STORE_KEY", "SENDER_ID_SECRET", "WEB_SECRET_KEY", "TRACKER_STORE_URL",
                  "WHATSAPP_ACCESS_TOKEN", "REST_TOKEN"},
    "insight": {"RASA_AUTH_TOKEN", "CASE_STORE_KEY", "SENDER_ID_SECRET", "STATS_HASH_KEY", "TRACKER_STORE_URL",
                "WEB_SECRET_KEY"},
}


def _compose() -> Dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def _secret_names_of(environment: Dict[str, Any]) -> Set[str]:
    from bot import settings

    return set(environment) & (SECRET_NAMES | set(settings.SECRET_SETTINGS))


def test_no_app_container_reads_the_whole_env_file() -> None:
    compose = _compose()
    for name in ("rasa-1", "rasa-2", "actions", "web", "purge"):
        assert "env_file" not in compose["services"][name], f"{name} would get every secret of .env"
    config = compose["x-config"]
    assert not _secret_names_of(config), "x-config goes to every service: no secrets in it"
    assert not any("${" + secret in str(value) for secret in SECRET_NAMES for value in config.values())


@pytest.mark.parametrize("service,role", [("rasa-1", "rasa"), ("rasa-2", "rasa"), ("actions", "actions"),
                                          ("web", "web"), ("purge", "purge"),
                                          ("followups", "followups"), ("insight", "insight")])
def test_each_compose_service_gets_only_its_own_secrets(service: str, role: str) -> None:
    environment = _compose()["services"][service]["environment"]
    secrets = _secret_names_of(environment)
    assert secrets <= OWN_SECRETS[role], f"{service} gets {sorted(secrets - OWN_SECRETS[role])}"
    assert not secrets & NEVER[role]
    must = OWN_SECRETS[role] - OPTIONAL
    assert must <= secrets, f"{service} misses {sorted(must - secrets)}"
    for key in secrets:  # from deploy/.env, never written into the compose file
        assert str(environment[key]).startswith("${" + key), key


def test_the_compose_secrets_are_in_the_env_example() -> None:
    example = env_example()
    wanted = set()
    for service in _compose()["services"].values():
        for value in (service.get("environment") or {}).values():
            wanted |= set(re.findall(r"\$\{(\w+):\?", str(value)))  # required ones
    assert wanted - set(example) == set(), "missing in deploy/env.example"
    assert "change-me" in example["REST_TOKEN"]


def _workloads() -> Dict[str, Dict[str, Any]]:
    """The pod templates of the Deployments and the purge CronJob, by role."""
    docs = k8s_docs()
    pods = {}
    for doc in docs:
        if doc["kind"] == "Deployment":
            pods[doc["metadata"]["name"].replace("opvoedmaatje-", "")] = doc["spec"]["template"]
        elif doc["kind"] == "CronJob":
            pods[doc["metadata"]["name"].replace("opvoedmaatje-", "")] = doc["spec"]["jobTemplate"]["spec"]["template"]
    assert set(pods) == set(OWN_SECRETS), sorted(pods)
    return pods


@pytest.mark.parametrize("role", sorted(OWN_SECRETS))
def test_each_k8s_workload_gets_only_its_own_secret_keys(role: str) -> None:
    secret = load_all(K8S / "secret.example.yaml")[0]
    pod = _workloads()[role]
    for container in pod["spec"]["containers"]:
        assert not any("secretRef" in ref for ref in container.get("envFrom", [])), "never the whole Secret"
        refs = {}
        for entry in container.get("env", []):
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                assert ref["name"] == secret["metadata"]["name"] and ref["key"] == entry["name"], entry
                assert ref["key"] in secret["stringData"], ref["key"]
                refs[ref["key"]] = ref.get("optional", False)
        assert set(refs) <= OWN_SECRETS[role] and not set(refs) & NEVER[role], sorted(refs)
        required = {key for key, optional in refs.items() if not optional}
        assert OWN_SECRETS[role] - set(refs) == set(), sorted(OWN_SECRETS[role] - set(refs))
        assert {key for key, optional in refs.items() if optional} <= OPTIONAL
        if role == "rasa":  # Rasa refuses to start without every ${VAR} of endpoints.yml
            configured = set(by_kind("ConfigMap")["opvoedmaatje-config"]["data"]) | required
            assert endpoint_vars() <= configured, sorted(endpoint_vars() - configured)
    configmap = by_kind("ConfigMap")["opvoedmaatje-config"]["data"]
    assert not _secret_names_of(configmap)


def test_rest_is_token_protected_and_addresses_come_from_the_one_trusted_proxy() -> None:
    compose_rasa = _compose()["services"]["rasa-1"]["environment"]
    configmap = by_kind("ConfigMap")["opvoedmaatje-config"]["data"]
    assert "REST_TOKEN" in compose_rasa
    assert any(e["name"] == "REST_TOKEN" for e in _workloads()["rasa"]["spec"]["containers"][0]["env"])
    assert configmap["RASA_TRUSTED_PROXIES"] == "1" and configmap["RATE_LIMIT_EXEMPT_ADDRESSES"] == ""
    assert compose_rasa["RATE_LIMIT_EXEMPT_ADDRESSES"] == "" and "RASA_TRUSTED_PROXIES" in compose_rasa
    assert env_example()["RASA_TRUSTED_PROXIES"] == "1"


def _selects(selector: Dict[str, Any], labels: Dict[str, str]) -> bool:
    return (selector.get("matchLabels") or {}).items() <= labels.items()


def test_network_policies_keep_rasa_and_the_actions_off_the_public_network() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert "networkpolicy.yaml" in kustomization["resources"]
    policies = by_kind("NetworkPolicy")
    pods = {role: template["metadata"]["labels"] for role, template in _workloads().items()}
    deny = [p for p in policies.values() if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")]
    assert deny and "Ingress" in deny[0]["spec"]["policyTypes"], "everything closed unless opened"

    def allowed_from(role: str) -> List[Dict[str, Any]]:
        """The `from` peers (with ports) of every policy that selects this role's pods."""
        peers = []
        for policy in policies.values():
            if policy["spec"]["podSelector"] and _selects(policy["spec"]["podSelector"], pods[role]):
                assert "Ingress" in policy["spec"]["policyTypes"]
                for rule in policy["spec"].get("ingress", []):
                    assert rule.get("from"), f"{policy['metadata']['name']}: a rule without `from` opens to all"
                    ports = {p["port"] for p in rule.get("ports", [])}
                    peers.extend(dict(peer, ports=ports) for peer in rule["from"])
        return peers

    def pod_roles(peers: List[Dict[str, Any]]) -> Set[str]:
        return {role for peer in peers if "podSelector" in peer and "namespaceSelector" not in peer
                for role, labels in pods.items() if _selects(peer["podSelector"], labels)}

    def namespaces(peers: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        return [peer["namespaceSelector"] for peer in peers if "namespaceSelector" in peer]

    ingress_controller = {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    rasa = allowed_from("rasa")
    assert rasa and all(peer["ports"] == {5005} for peer in rasa)
    assert pod_roles(rasa) == {"web", "followups"} and namespaces(rasa) == [ingress_controller]
    assert not any("ipBlock" in peer for peer in rasa)
    actions = allowed_from("actions")
    assert actions and pod_roles(actions) == {"rasa"} and not namespaces(actions)
    assert all(peer["ports"] == {5055} for peer in actions) and not any("ipBlock" in p for p in actions)
    web = allowed_from("web")
    assert namespaces(web) == [ingress_controller] and not pod_roles(web)
    assert not allowed_from("purge")
    assert not allowed_from("followups")
    for policy in policies.values():  # every policy selects pods that exist
        selector = policy["spec"]["podSelector"]
        assert selector == {} or any(_selects(selector, labels) for labels in pods.values()), policy["metadata"]["name"]
