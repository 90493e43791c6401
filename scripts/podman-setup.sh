#!/usr/bin/env bash
# Installs what the deploy tier (tests/deploy/) needs when it is missing, so a fresh Debian
# machine needs nothing by hand: podman and Debian's docker-compose, Helm, the chart-check
# tools, the local base image and pmsync's images (the stand-ins too). Idempotent and quiet
# when everything is there; `.ci/run` calls it before the tier, and the tier calls it itself.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}"
HELM_VERSION=v3.21.4
TOOLS="${PMSYNC_TOOLS_DIR:-/opt/pmsync-tools}"

need=()
for tool in podman runc aardvark-dns docker-compose debootstrap; do
  command -v "$tool" >/dev/null || [[ -x /usr/lib/podman/$tool ]] || need+=("$tool")
done
if ((${#need[@]})); then
  echo "installing ${need[*]} (apt)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc aardvark-dns docker-compose debootstrap >/dev/null
fi

if [[ ! -x "$TOOLS/bin/helm" ]]; then
  echo "installing helm $HELM_VERSION (go install)"
  export PATH="$PATH:/usr/local/go/bin"
  (cd /tmp && GOBIN="$TOOLS/bin" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
fi

venv="$TOOLS/venv"
if [[ ! -x "$venv/bin/checkov" || ! -x "$venv/bin/kubernetes-validate" ]]; then
  echo "installing the chart checks into $venv (pyproject.toml's deploy extra)"
  python3 -m venv "$venv"
  python3 -c "import tomllib;print('\n'.join(tomllib.load(open('$root/pyproject.toml','rb'))['project']['optional-dependencies']['deploy']))" \
    > "$venv/requirements.txt"
  "$venv/bin/pip" install -q -r "$venv/requirements.txt"
fi

"$root/scripts/build-images.sh" --standins
