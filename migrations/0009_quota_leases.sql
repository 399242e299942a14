-- The generation quota reserved in blocks: a replica reserves several of a busy key's
-- generations at once (a lease) and hands them out itself, so the key's requests do not each
-- lock its counter row. One usage row then records a lease's units; what a lease did not use
-- is handed back by lowering them. See the API's `generations::quota_tokens`.
ALTER TABLE generation_quota_usage
    ADD COLUMN units integer NOT NULL DEFAULT 1 CONSTRAINT generation_quota_usage_units_check CHECK (units >= 0);

-- Reserves up to `p_units` of `p_quota` generations per rolling `p_window` for key `p_key`,
-- recorded as lease `p_lease`. Answers how many were granted (fewer when the quota is nearly
-- spent, none when spent), the uses in the window including them, and, when none were
-- granted, the seconds until the oldest use leaves the window. One round trip, as
-- `reserve_generation` was (0005), counting units instead of rows.
CREATE FUNCTION reserve_generations(p_key uuid, p_lease uuid, p_units bigint, p_quota bigint, p_window interval)
RETURNS TABLE (granted bigint, used bigint, frees_in double precision)
LANGUAGE plpgsql AS $$
DECLARE
    v_now     timestamptz;
    v_cutoff  timestamptz;
    v_used    bigint;
    v_from    timestamptz;
    v_granted bigint;
BEGIN
    SELECT c.used, c.counted_from INTO v_used, v_from
    FROM quota_counters c WHERE c.api_key_id = p_key FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO quota_counters (api_key_id, used, counted_from)
        SELECT p_key, coalesce(sum(u.units), 0), clock_timestamp() - p_window
        FROM generation_quota_usage u
        WHERE u.api_key_id = p_key AND u.created_at > clock_timestamp() - p_window
        ON CONFLICT (api_key_id) DO NOTHING;
        SELECT c.used, c.counted_from INTO v_used, v_from
        FROM quota_counters c WHERE c.api_key_id = p_key FOR UPDATE;
    END IF;
    v_now := clock_timestamp();
    v_cutoff := v_now - p_window;
    IF v_from < v_cutoff THEN
        v_used := v_used - coalesce((SELECT sum(u.units) FROM generation_quota_usage u
                                     WHERE u.api_key_id = p_key AND u.created_at > v_from AND u.created_at <= v_cutoff), 0);
        v_from := v_cutoff;
    END IF;
    v_granted := least(p_units, greatest(p_quota - v_used, 0));
    IF v_granted = 0 THEN
        UPDATE quota_counters c SET used = v_used, counted_from = v_from WHERE c.api_key_id = p_key;
        RETURN QUERY
            SELECT 0::bigint, v_used,
                   coalesce(extract(epoch FROM min(u.created_at) + p_window - v_now)::double precision, 0)
            FROM generation_quota_usage u
            WHERE u.api_key_id = p_key AND u.created_at > v_from AND u.units > 0;
        RETURN;
    END IF;
    INSERT INTO generation_quota_usage (api_key_id, generation_id, created_at, units)
    VALUES (p_key, p_lease, v_now, v_granted);
    UPDATE quota_counters c SET used = v_used + v_granted, counted_from = v_from WHERE c.api_key_id = p_key;
    RETURN QUERY SELECT v_granted, v_used + v_granted, 0::double precision;
END
$$;

-- Hands back `p_units` of lease `p_lease` that were not used (no more than it holds).
CREATE FUNCTION refund_generations(p_key uuid, p_lease uuid, p_units bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_from     timestamptz;
    v_created  timestamptz;
    v_refunded bigint;
BEGIN
    SELECT c.counted_from INTO v_from FROM quota_counters c WHERE c.api_key_id = p_key FOR UPDATE;
    SELECT u.created_at, least(p_units, u.units) INTO v_created, v_refunded
    FROM generation_quota_usage u WHERE u.api_key_id = p_key AND u.generation_id = p_lease;
    UPDATE generation_quota_usage u SET units = u.units - v_refunded
    WHERE u.api_key_id = p_key AND u.generation_id = p_lease;
    IF v_created IS NOT NULL AND v_from IS NOT NULL AND v_created > v_from THEN
        UPDATE quota_counters c SET used = c.used - v_refunded WHERE c.api_key_id = p_key;
    END IF;
END
$$;

-- The one-generation forms, for replicas still running the code before this migration.
CREATE OR REPLACE FUNCTION reserve_generation(p_key uuid, p_generation uuid, p_quota bigint, p_window interval)
RETURNS TABLE (reserved boolean, used bigint, frees_in double precision)
LANGUAGE sql AS $$
    SELECT r.granted > 0, r.used, r.frees_in FROM reserve_generations(p_key, p_generation, 1, p_quota, p_window) r
$$;

CREATE OR REPLACE FUNCTION refund_generation(p_key uuid, p_generation uuid)
RETURNS void
LANGUAGE sql AS $$
    SELECT refund_generations(p_key, p_generation, 1)
$$;
