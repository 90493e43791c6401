# syntax=docker/dockerfile:1
# One image for every pmsync service; compose and the Helm chart pick the sub-command
# (`pmsync fetcher`, `pmsync api`, …). Multi-stage: gcc, headers and Cython stay in the builder;
# the runtime stage gets Debian's Python 3.11, the venv and the compiled per-record modules.
# Based on debian:bookworm-slim + Debian's python3 (3.11) rather than python:3.11-slim, so the
# same file builds from the registry and, where none is reachable, from a local debootstrap
# image of that name (scripts/base-images.sh).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS builder
# Behind a TLS-intercepting proxy, mount its CA certificates at /run/build-ca for the build
# (`podman build -v /usr/local/share/ca-certificates:/run/build-ca:ro`, as scripts/build-images.sh
# does): trusted in this stage only, never copied into the runtime image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv python3-dev gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/* \
 && if ls /run/build-ca/*.crt >/dev/null 2>&1; then \
      cp /run/build-ca/*.crt /usr/local/share/ca-certificates/ && update-ca-certificates >/dev/null; fi
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PATH=/opt/venv/bin:$PATH
RUN python3 -m venv /opt/venv
WORKDIR /app
# Dependencies first, from pyproject.toml's pins only: this layer is rebuilt when a pin
# changes, not on every source edit.
COPY pyproject.toml ./
RUN python3 -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'])); print('\n'.join(p['optional-dependencies']['compiled']), file=open('/tmp/compiled.txt', 'w'))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && pip install --target /opt/buildtools -r /tmp/compiled.txt
COPY README.md ./
COPY pmsync ./pmsync
COPY services ./services
COPY schemas ./schemas
COPY pms_configs ./pms_configs
# Editable: pmsync reads schemas/ and pms_configs/ beside its package (settings.REPO_ROOT) and
# its compiled modules from build/compiled/ there (pmsync/compiled.py), so the tree stays /app.
# Cython comes from /opt/buildtools, outside the venv that ships.
RUN pip install --no-deps -e . \
 && PYTHONPATH=/opt/buildtools pmsync compile \
 && rm -rf build/compiled/c build/compiled/tmp pmsync.egg-info/SOURCES.txt \
 && python3 -m compileall -q /app/pmsync /app/services \
 && pip uninstall -y -q pip

FROM ${BASE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* \
 && groupadd --system --gid 10001 pmsync \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pmsync \
 && install -d -o 10001 -g 10001 -m 0700 /run/pmsync-secrets
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
# Read-only root filesystems (the chart's default): no .pyc writes, no stack folder under /app.
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PMSYNC_STACK_DIR=/tmp/pmsync PMSYNC_SECRETS_DIR=/run/pmsync-secrets
WORKDIR /app
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd. It owns
# /run/pmsync-secrets, so an empty volume mounted there (compose) is writable by it.
USER 10001:10001
# Last, so a new version or commit re-labels the image without rebuilding a layer above.
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="pmsync" \
      org.opencontainers.image.description="Config-driven hotel PMS reservation pipeline: fetch, validate, map, load, serve." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="debian:bookworm-slim"
ENTRYPOINT ["pmsync"]
CMD ["--help"]
