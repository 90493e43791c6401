#!/bin/sh
# Runs once when the compose Postgres volume is created: the API's login role, subject to
# row-level security. Its password comes from the environment, never from a file in the repo.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v api_password="$PMSYNC_API_DB_PASSWORD" <<'SQL'
CREATE ROLE pmsync_api LOGIN NOBYPASSRLS PASSWORD :'api_password';
SQL
