-- Core tables: API keys, generations with their stored BPMN versions, and idempotency records.

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    owner        text NOT NULL,
    -- SHA-256 of the whole secret. Secrets are 190 random bits, so a fast hash is enough and
    -- lets a request find its key with one index lookup.
    secret_hash  bytea NOT NULL CONSTRAINT api_keys_secret_hash_key UNIQUE,
    scopes       text[] NOT NULL,
    livemode     boolean NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE generations (
    id               uuid PRIMARY KEY,
    owner            text NOT NULL,
    api_key_id       uuid NOT NULL CONSTRAINT generations_api_key_fkey REFERENCES api_keys (id),
    mode             text NOT NULL CONSTRAINT generations_mode_check CHECK (mode IN ('initial', 'refinement')),
    status           text NOT NULL CONSTRAINT generations_status_check
                         CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    -- The validated request (prompt, language, source) the worker runs.
    request          jsonb NOT NULL,
    request_id       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    completed_at     timestamptz,
    -- Set once the job message is confirmed by the broker; the relay republishes rows left NULL.
    published_at     timestamptz,
    -- Incremented by every claim; a worker may only complete the attempt it claimed.
    attempts         integer NOT NULL DEFAULT 0,
    lease_expires_at timestamptz,
    error            jsonb
);

-- Owner listings, newest first.
CREATE INDEX generations_owner_created_idx ON generations (owner, created_at DESC, id DESC);
-- The relay's scan of unfinished work.
CREATE INDEX generations_unfinished_idx ON generations (status, created_at) WHERE status IN ('queued', 'running');

CREATE TABLE generation_versions (
    generation_id  uuid NOT NULL CONSTRAINT generation_versions_generation_fkey
                       REFERENCES generations (id) ON DELETE CASCADE,
    option_number  integer NOT NULL,
    version_number integer NOT NULL,
    bpmn_xml       text NOT NULL,
    PRIMARY KEY (generation_id, option_number, version_number)
);

CREATE TABLE idempotency_keys (
    owner          text NOT NULL,
    key            text NOT NULL,
    request_hash   bytea NOT NULL,
    -- Deferred so the record can be claimed before its generation row is written, in one transaction.
    generation_id  uuid NOT NULL CONSTRAINT idempotency_keys_generation_fkey
                       REFERENCES generations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, key)
);
