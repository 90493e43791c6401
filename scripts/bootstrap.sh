#!/usr/bin/env bash
# Makes a fresh clone runnable: a Python 3.11 virtualenv with pmsync and its pinned
# dependencies, and its per-record modules compiled (gcc). Kafka, Postgres and the JDK are
# installed by `pmsync stack up` when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv >/dev/null
    echo python3.11; return 0
  fi
  echo "pmsync needs Python 3.11 (python3.11 on PATH)" >&2; return 1
}

if [ ! -x .venv/bin/python ]; then
  "$(pick_python)" -m venv .venv
fi
stamp=.venv/.pmsync-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test,compiled]'
  echo "$want" > "$stamp"
fi
# The per-record modules, compiled (pmsync/compiled.py); quick when nothing changed. Needs a C
# compiler and the Python headers, installed here when missing (as root with apt-get).
if ! command -v gcc >/dev/null 2>&1 ||
   ! .venv/bin/python -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev python3.11-dev >/dev/null
  else
    echo "pmsync compile needs gcc and the Python 3.11 headers (python3.11-dev)" >&2; exit 1
  fi
fi
.venv/bin/pmsync compile
