-- Core tables. Tenant tables carry hotel_id; row-level security on them is in 0002.
-- Role pmsync_api is the API's login; it is created here without a password if missing so
-- migrations run on any cluster (the dev stack and docker-compose give it a password).
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pmsync_api') THEN
    CREATE ROLE pmsync_api NOLOGIN NOBYPASSRLS;
  END IF;
END
$$;

CREATE TABLE pms_configs (
  pms_type     text        NOT NULL,
  version      text        NOT NULL,
  body         jsonb       NOT NULL,
  config_hash  text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pms_type, version)
);

CREATE TABLE hotels (
  id               text        PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  name             text        NOT NULL,
  pms_type         text        NOT NULL,
  pms_version      text        NOT NULL,
  base_url         text        NOT NULL,
  property_id      text        NOT NULL,           -- the hotel's id at its PMS
  credentials_ref  text,                           -- the secret's name, never the secret
  poll_interval_s  integer     NOT NULL DEFAULT 60 CHECK (poll_interval_s > 0),
  status           text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sync_checkpoints (
  hotel_id              text        PRIMARY KEY REFERENCES hotels (id) ON DELETE CASCADE,
  delta_cursor          text,                      -- the "changed since" value of the next poll
  last_fetch_id         text,
  last_attempt_at       timestamptz,
  last_success_at       timestamptz,
  last_error            text,
  last_error_at         timestamptz,
  consecutive_failures  integer     NOT NULL DEFAULT 0,
  records_fetched       bigint      NOT NULL DEFAULT 0,
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- No foreign key to hotels: the loader's set-based upsert must not pay a per-row check, and
-- bookings are only ever produced for hotels the fetcher knows.
CREATE TABLE bookings (
  hotel_id           text          NOT NULL,
  external_id        text          NOT NULL,
  status             text          NOT NULL CHECK (status IN
                       ('PENDING', 'CONFIRMED', 'CHECKED_IN', 'CHECKED_OUT', 'CANCELLED', 'NO_SHOW')),
  check_in           date          NOT NULL,
  check_out          date          NOT NULL,
  room_number        text,
  room_type          text,
  adults             integer       NOT NULL,
  children           integer       NOT NULL DEFAULT 0,
  total_amount       numeric(14,2),
  currency           char(3),
  source_updated_at  timestamptz   NOT NULL,
  pms_type           text          NOT NULL,
  pms_version        text          NOT NULL,
  config_hash        text          NOT NULL,
  source_topic       text          NOT NULL,
  source_partition   integer       NOT NULL,
  source_offset      bigint        NOT NULL,
  created_at         timestamptz   NOT NULL DEFAULT now(),
  loaded_at          timestamptz   NOT NULL DEFAULT now(),
  PRIMARY KEY (hotel_id, external_id)
);
CREATE INDEX bookings_hotel_updated ON bookings (hotel_id, source_updated_at);
CREATE INDEX bookings_hotel_check_in ON bookings (hotel_id, check_in);

-- One guest per booking, as in the seed's model.
CREATE TABLE guests (
  hotel_id     text        NOT NULL,
  external_id  text        NOT NULL,              -- the booking's external id
  first_name   text,
  last_name    text,
  email        text,
  phone        text,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (hotel_id, external_id)
);

CREATE TABLE rooms (
  hotel_id       text        NOT NULL,
  room_number    text        NOT NULL,
  room_type      text,
  first_seen_at  timestamptz NOT NULL DEFAULT now(),
  last_seen_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (hotel_id, room_number)
);

-- Materialized copy of pms.dlq.v1 so the API and the CLI can list and replay rejects
-- without reading Kafka; (dlq_partition, dlq_offset) makes the sink idempotent.
CREATE TABLE dlq_messages (
  id                bigserial   PRIMARY KEY,
  dlq_partition     integer     NOT NULL,
  dlq_offset        bigint      NOT NULL,
  hotel_id          text,
  stage             text        NOT NULL,
  error_class       text        NOT NULL,
  error_message     text        NOT NULL,
  error_path        text,
  source_topic      text,
  source_partition  integer,
  source_offset     bigint,
  pms_type          text,
  pms_version       text,
  config_version    text,
  config_hash       text,
  failed_at         timestamptz NOT NULL,
  message_key       bytea,
  message_value     bytea       NOT NULL,
  headers           jsonb       NOT NULL DEFAULT '{}',
  replayed_at       timestamptz,
  replay_count      integer     NOT NULL DEFAULT 0,
  UNIQUE (dlq_partition, dlq_offset)
);
CREATE INDEX dlq_hotel_failed ON dlq_messages (hotel_id, failed_at);
CREATE INDEX dlq_stage_class ON dlq_messages (stage, error_class);

-- API keys are stored as SHA-256 of the key; the plain key is shown once at creation.
CREATE TABLE api_keys (
  id          bigserial   PRIMARY KEY,
  key_prefix  text        NOT NULL UNIQUE,        -- first characters, to name a key in lists
  key_hash    text        NOT NULL UNIQUE,
  hotel_id    text        REFERENCES hotels (id) ON DELETE CASCADE,
  is_admin    boolean     NOT NULL DEFAULT false,
  name        text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz,
  CHECK (is_admin OR hotel_id IS NOT NULL),
  CHECK (NOT (is_admin AND hotel_id IS NOT NULL))
);
