#!/usr/bin/env bash
# Builds pmsync's product image and, with --standins, the local Kafka and Postgres stand-ins
# the deploy tests run where apache/kafka and postgres cannot be pulled. Layers are cached by
# podman: a rebuild after a source edit reruns only the copy + compile steps.
#
#   scripts/build-images.sh [--standins]     # tags pmsync:dev (and pmsync-standin-{kafka,postgres})
#
# The CI sandbox intercepts TLS: its CA certificates (/usr/local/share/ca-certificates) are
# mounted into the builder stages at /run/build-ca, never copied into a runtime image.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}"
image="${PMSYNC_IMAGE:-pmsync:dev}"
version="$(cd "$root" && python3 -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")"
revision="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
ca=()
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  ca=(-v /usr/local/share/ca-certificates:/run/build-ca:ro)
fi

"$root/scripts/base-images.sh"
podman build -q "${ca[@]}" --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  -t "$image" "$root" >/dev/null
echo "built $image ($version, $revision): $(podman image inspect "$image" --format '{{.Size}}') bytes"

if [[ "${1:-}" == "--standins" ]]; then
  # The Kafka stand-in resolves the same jars as `pmsync stack`, through the same pom.
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx"' EXIT
  cp -r "$root/deploy/standins/kafka/." "$ctx/"
  cp "$root/pmsync/stack/kafka-pom.xml" "$ctx/kafka-pom.xml"
  podman build -q "${ca[@]}" -t pmsync-standin-kafka:4.4.0 "$ctx" >/dev/null
  podman build -q -t pmsync-standin-postgres:15 "$root/deploy/standins/postgres" >/dev/null
  echo "built pmsync-standin-kafka:4.4.0 and pmsync-standin-postgres:15"
fi
