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

ROOT = Path(__file__).resolve().parent.parent
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
        assert services[name]["env_file"] == ".env"
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
        assert refs == {"opvoedmaatje-config", "opvoedmaatje-secrets"}, name
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
