# One image for every pmsync service; the compose file picks the sub-command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pmsync ./pmsync
COPY services ./services
COPY schemas ./schemas
COPY pms_configs ./pms_configs
# Editable: pmsync reads schemas/ and pms_configs/ from the project folder (REPO_ROOT = /app).
# gcc only for `pmsync compile` (the per-record modules as C extensions, pmsync/compiled.py).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
 && pip install --no-cache-dir -e '.[compiled]' && pmsync compile \
 && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* build/compiled/c build/compiled/tmp \
 && useradd --system pmsync
USER pmsync
ENTRYPOINT ["pmsync"]
