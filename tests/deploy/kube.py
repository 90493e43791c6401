"""The Helm chart's pods under ``podman kube play`` (podman 4.3), on a compose stack's network.

What podman 4.3 does with the chart's objects, and what this module does about it:

- Deployments are played as they render (one pod each; replicas are set to 1 for the test),
  less their informational ``ports`` lists, which podman 4.3 would publish on the host.
- Jobs are not a kind kube play knows: each hook Job's pod template is played as a Pod, in
  hook-weight order, and must exit 0 before the next (what Helm's hooks guarantee).
- Secrets: kube play's env ``secretKeyRef`` reads a podman secret holding a flat JSON object of
  base64 values, while a ``secret`` volume reads a Secret object and writes its ``data`` values
  as they are stored (not base64-decoded; a flat object or ``stringData`` mounts an empty
  folder). So the DSN Secrets are created base64-encoded and the PMS credentials Secret as a
  Secret object with its files' text in ``data``.
- httpGet probes become ``curl`` health checks, which never run here (no systemd timers, and
  the image has no curl). The test does the kubelet's part instead: it calls every rendered
  readiness and liveness probe (path and port as rendered) on the pod's IP, from outside the
  pod, as the kubelet would (``probe``).
- NetworkPolicies, PDBs, Services and the ServiceAccount have no podman meaning; they are
  checked by test_chart.py (schema, checkov), not played.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from tests.deploy.podman import HELM, ROOT, podman_json, run

CHART = ROOT / "deploy" / "helm" / "pmsync"
KUBE_VERSION = "1.31.0"   # the Kubernetes version the chart is rendered and validated for


def render(release: str, values: dict, workdir: Path) -> list[dict]:
    path = workdir / "kube-values.yaml"
    path.write_text(yaml.safe_dump(values))
    out = run(str(HELM), "template", release, str(CHART), "--namespace", "pmsync", "--kube-version", KUBE_VERSION,
              "-f", str(path)).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def create_secret(name: str, data: dict[str, str], *, for_env: bool, workdir: Path) -> None:
    if for_env:
        stored: dict = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    else:
        # A secret volume reads a Secret object's ``data`` and writes each value as stored
        # (a flat object, or ``stringData``, mounts an empty folder).
        stored = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(stored))
    run("podman", "secret", "create", name, str(path))


def job_as_pod(job: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": job["metadata"]["name"], "labels": job["spec"]["template"]["metadata"]["labels"]},
            "spec": job["spec"]["template"]["spec"]}


class KubePlay:
    """The pods played from rendered objects on ``network``, all named ``prefix``…;
    ``down()`` removes them, their volumes and the secrets made here."""

    def __init__(self, network: str, prefix: str, workdir: Path) -> None:
        self.network, self.prefix, self.workdir = network, prefix, workdir
        self.volumes: set[str] = set()
        self.secrets: list[str] = []

    def secret(self, name: str, data: dict[str, str], *, for_env: bool) -> None:
        create_secret(name, data, for_env=for_env, workdir=self.workdir)
        self.secrets.append(name)

    def play(self, name: str, docs: list[dict]) -> None:
        for doc in docs:   # podman 4.3 makes a named volume per emptyDir / secret volume
            spec = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
            self.volumes |= {v["secret"]["secretName"] if "secret" in v else v["name"] for v in spec.get("volumes", [])}
            # podman 4.3 publishes every containerPort on the host (five pods on :9100, and
            # ports the machine's other users hold); in Kubernetes the list is informational
            # and the probes name their port by number, so it goes for the play only.
            for container in spec["containers"]:
                container.pop("ports", None)
        path = self.workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        run("podman", "kube", "play", "--network", self.network, str(path), timeout=300)

    def run_to_completion(self, job: dict, timeout: float = 300) -> None:
        """A hook Job, played as its pod: waits for its container to exit, which must be 0."""
        pod = job_as_pod(job)
        self.play(pod["metadata"]["name"], [pod])
        container = f"{pod['metadata']['name']}-{pod['spec']['containers'][0]['name']}"
        deadline = time.monotonic() + timeout
        while (state := podman_json("inspect", container)[0]["State"])["Status"] != "exited":
            assert time.monotonic() < deadline, f"hook {container} still {state['Status']} after {timeout} s"
            time.sleep(2)
        assert state["ExitCode"] == 0, run("podman", "logs", container, check=False).stderr[-3000:]

    @staticmethod
    def container(deployment: dict) -> str:
        """podman's name for a Deployment's (first) container: <name>-pod-0-<container>."""
        return f"{deployment['metadata']['name']}-pod-0-{deployment['spec']['template']['spec']['containers'][0]['name']}"

    def pod_ip(self, deployment: dict) -> str:
        networks = podman_json("inspect", self.container(deployment))[0]["NetworkSettings"]["Networks"]
        return networks[self.network]["IPAddress"]

    def down(self) -> None:
        """By name, not ``kube down``: a play that failed half-way leaves pods it cannot list."""
        for pod in run("podman", "pod", "ps", "--format", "{{.Name}}").stdout.split():
            if pod.startswith(self.prefix):
                run("podman", "pod", "rm", "-f", pod, check=False, timeout=300)
        for name in self.volumes:
            run("podman", "volume", "rm", "-f", name, check=False)
        for name in self.secrets:
            run("podman", "secret", "rm", name, check=False)


def probe(ip: str, spec: dict) -> tuple[int, bytes]:
    """One kubelet httpGet probe (its rendered path and port) against the pod's IP."""
    url = f"http://{ip}:{spec['httpGet']['port']}{spec['httpGet']['path']}"
    try:
        with urllib.request.urlopen(url, timeout=spec.get("timeoutSeconds", 5)) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError as exc:
        return 0, str(exc).encode()
