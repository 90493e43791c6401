# One image for every pmsync service; the compose file picks the sub-command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pmsync ./pmsync
COPY services ./services
COPY schemas ./schemas
COPY pms_configs ./pms_configs
# Editable: pmsync reads schemas/ and pms_configs/ from the project folder (REPO_ROOT = /app).
RUN pip install --no-cache-dir -e . && useradd --system pmsync
USER pmsync
ENTRYPOINT ["pmsync"]
