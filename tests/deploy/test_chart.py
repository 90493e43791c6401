"""The Helm chart: lint, render (defaults and every option), Kubernetes API schema of a named
version (offline, kubernetes-validate's bundled schemas), and checkov's security scan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.deploy.kube import CHART, KUBE_VERSION
from tests.deploy.podman import DEPLOY_VENV, HELM, ROOT, run

VALUES = {"default": [], "all-options": ["-f", str(CHART / "ci" / "all-options-values.yaml")],
          "strimzi-cnpg": ["-f", str(ROOT / "deploy" / "helm" / "examples" / "strimzi-cloudnativepg.yaml")]}


def render(tmp: Path, name: str) -> Path:
    out = tmp / f"{name}.yaml"
    out.write_text(run(str(HELM), "template", "pmsync", str(CHART), "--namespace", "pmsync",
                       "--kube-version", KUBE_VERSION, *VALUES[name]).stdout)
    return out


def objects(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("values", list(VALUES))
def test_helm_lint_passes(images: float, values: str) -> None:
    out = run(str(HELM), "lint", str(CHART), "--strict", "--kube-version", KUBE_VERSION, *VALUES[values]).stdout
    assert "0 chart(s) failed" in out


@pytest.mark.parametrize("values", list(VALUES))
def test_every_rendered_object_matches_the_kubernetes_api_schema(images: float, tmp_path: Path, values: str) -> None:
    rendered = render(tmp_path, values)
    out = run(str(DEPLOY_VENV / "bin" / "kubernetes-validate"), "-k", KUBE_VERSION, "--strict",
              str(rendered), check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    kinds = {o["kind"] for o in objects(rendered)}
    checked = out.stdout.count(" passed for resource ")
    # KEDA's CRD is not in the Kubernetes schema set: its objects are checked below instead.
    assert checked == sum(1 for o in objects(rendered) if o["kind"] != "ScaledObject")
    assert {"Deployment", "Job", "PodDisruptionBudget", "Service", "NetworkPolicy"} <= kinds


def test_all_options_render_every_optional_part(images: float, tmp_path: Path) -> None:
    docs = objects(render(tmp_path, "all-options"))
    by_kind: dict[str, list[dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    deployments = {d["metadata"]["name"]: d for d in by_kind["Deployment"]}
    assert len(by_kind["Ingress"]) == 1
    # KEDA: one per listed stage, aimed at a rendered Deployment, bounded by the partitions (4).
    for scaled in by_kind["ScaledObject"]:
        assert scaled["spec"]["scaleTargetRef"]["name"] in deployments
        assert scaled["spec"]["maxReplicaCount"] == 4
        trigger = scaled["spec"]["triggers"][0]
        assert trigger["type"] == "kafka" and trigger["metadata"]["topic"].startswith("prod.pms.")
        assert "replicas" not in deployments[scaled["spec"]["scaleTargetRef"]["name"]]["spec"]
    # The PMS credentials Secret is mounted where pmsync/secrets.py reads (PMSYNC_SECRETS_DIR).
    fetcher = deployments["pmsync-fetcher"]["spec"]["template"]["spec"]
    container = fetcher["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[env["PMSYNC_SECRETS_DIR"]]["readOnly"] is True
    assert {"migrate", "topics-configs"} == {j["metadata"]["name"].removeprefix("pmsync-") for j in by_kind["Job"]}


def test_every_pod_is_hardened_and_probed(images: float, tmp_path: Path) -> None:
    for doc in objects(render(tmp_path, "all-options")):
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
            assert sc["capabilities"]["drop"] == ["ALL"]
            if doc["kind"] == "Deployment":
                assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
                assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"


def _accepted(accepted: dict, finding: dict) -> bool:
    entry = accepted.get(finding["check_id"])
    return entry is not None and finding["resource"] in entry.get("resources", [finding["resource"]])


def test_checkov_finds_nothing_but_the_accepted_findings(images: float, tmp_path: Path) -> None:
    accepted = yaml.safe_load((ROOT / "deploy" / "helm" / "checkov-accepted.yaml").read_text())
    scan = tmp_path / "scan"
    scan.mkdir()
    for name in VALUES:
        render(scan, name)
    out = run(str(DEPLOY_VENV / "bin" / "checkov"), "-d", str(scan), "--framework", "kubernetes",
              "-o", "json", "--quiet", check=False, env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin"})
    report = json.loads(out.stdout)
    report = report if isinstance(report, list) else [report]
    failed = [f for r in report for f in r["results"]["failed_checks"]]
    unexplained = sorted({(f["check_id"], f["check_name"], f["resource"]) for f in failed if not _accepted(accepted, f)})
    assert unexplained == []
    assert all(entry["reason"].strip() for entry in accepted.values())
    summary = report[0]["summary"]
    print(f"\n[deploy] checkov: {summary['passed']} passed, {summary['failed']} failed "
          f"(accepted: {sorted({f['check_id'] for f in failed})})")
