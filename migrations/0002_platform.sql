-- Platform conventions (seed 001): canceled generations, test-mode marking, rate limits, quotas.

ALTER TABLE generations DROP CONSTRAINT generations_status_check;
ALTER TABLE generations ADD CONSTRAINT generations_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled'));

-- Whether the generation was made with a live key; test-mode keys always use the builtin modeler.
ALTER TABLE generations ADD COLUMN livemode boolean NOT NULL DEFAULT true;

-- One fixed window per key, starting at the key's first request in it. A single row updated
-- atomically is what makes the limit exact across API replicas.
CREATE TABLE rate_limits (
    api_key_id    uuid PRIMARY KEY CONSTRAINT rate_limits_api_key_fkey REFERENCES api_keys (id) ON DELETE CASCADE,
    window_start  timestamptz NOT NULL,
    request_count integer NOT NULL
);

-- Generations created per key, kept apart from `generations` so deleting a generation does not
-- hand its quota back.
CREATE TABLE generation_quota_usage (
    api_key_id    uuid NOT NULL CONSTRAINT generation_quota_usage_api_key_fkey REFERENCES api_keys (id) ON DELETE CASCADE,
    generation_id uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, created_at, generation_id)
);
