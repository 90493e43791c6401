#!/usr/bin/env bash
# Builds the local `debian:bookworm-slim` base image when no registry can be pulled from.
#
# Why: the Dockerfile and the stand-in images start FROM debian:bookworm-slim. Where Docker Hub
# answers, podman/docker pull it; on the CI sandbox it cannot be pulled, so we build a Debian 12
# root filesystem from Debian's own packages (debootstrap, the same mirror apt uses) and import
# it under that name. Idempotent: an existing image of that name is kept.
set -euo pipefail
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "$0")/.." && pwd)/deploy/podman/containers.conf}"
TAG="${PMSYNC_BASE_IMAGE:-debian:bookworm-slim}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if podman image exists "$TAG"; then
  echo "base image $TAG present"
  exit 0
fi
if podman pull -q "docker.io/library/$TAG" >/dev/null 2>&1; then
  echo "base image $TAG pulled"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "building $TAG with debootstrap from $MIRROR (no registry reachable)"
debootstrap --variant=minbase bookworm "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log"; exit 1; }
# What the official slim image also drops: apt lists, caches, docs. Security updates come from
# the Dockerfiles' own `apt-get update`, so the sources list keeps bookworm-security.
cat >"$work/root/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/"*.bin "$work/root/usr/share/doc/"* \
  "$work/root/usr/share/man/"*
tar -C "$work/root" -c . | podman import --change 'CMD ["bash"]' - "$TAG" >/dev/null
echo "base image $TAG built: $(podman image inspect "$TAG" --format '{{.Size}}') bytes"
