-- Per-key budgets that no longer serialise a key's requests behind a durable commit.
--
-- The rate-limit row and the quota counter are written on connections whose commits do not
-- wait for the WAL flush (see `db::budgets`), so a key's row is locked for the statement
-- only. The generation row itself is still committed durably, and WAL is written in order:
-- a generation that survives a crash implies the quota use recorded before it survives too.

-- How many of the key's `generation_quota_usage` rows lie after `counted_from`. Each
-- reservation moves `counted_from` up to the start of the rolling window and subtracts the rows
-- it passed, so the check costs the rows that left the window, not all rows in it.
CREATE TABLE quota_counters (
    api_key_id   uuid PRIMARY KEY CONSTRAINT quota_counters_api_key_fkey REFERENCES api_keys (id) ON DELETE CASCADE,
    used         bigint NOT NULL,
    counted_from timestamptz NOT NULL
);

-- Reserves one generation of `p_quota` per rolling `p_window` for key `p_key`, recording
-- `p_generation` as its use. Answers whether it was reserved, the uses in the window (including
-- this one), and the seconds until the oldest use leaves the window.
--
-- A function so that the lock, the count and the insert are one round trip, yet separate
-- statements: in READ COMMITTED each sees the rows committed before it, so a reservation that
-- waited for the lock counts the one that held it.
CREATE FUNCTION reserve_generation(p_key uuid, p_generation uuid, p_quota bigint, p_window interval)
RETURNS TABLE (reserved boolean, used bigint, frees_in double precision)
LANGUAGE plpgsql AS $$
DECLARE
    v_now    timestamptz;
    v_cutoff timestamptz;
    v_used   bigint;
    v_from   timestamptz;
BEGIN
    SELECT c.used, c.counted_from INTO v_used, v_from
    FROM quota_counters c WHERE c.api_key_id = p_key FOR UPDATE;
    IF NOT FOUND THEN
        -- The key's first reservation: count what it used before counters existed. A
        -- concurrent first reservation waits on this insert and then finds the row.
        INSERT INTO quota_counters (api_key_id, used, counted_from)
        SELECT p_key, count(*), clock_timestamp() - p_window
        FROM generation_quota_usage u
        WHERE u.api_key_id = p_key AND u.created_at > clock_timestamp() - p_window
        ON CONFLICT (api_key_id) DO NOTHING;
        SELECT c.used, c.counted_from INTO v_used, v_from
        FROM quota_counters c WHERE c.api_key_id = p_key FOR UPDATE;
    END IF;
    -- Read the clock only once the lock is held, so a key's uses are recorded in time order
    -- and every new row lies after `counted_from`.
    v_now := clock_timestamp();
    v_cutoff := v_now - p_window;
    IF v_from < v_cutoff THEN
        v_used := v_used - (SELECT count(*) FROM generation_quota_usage u
                            WHERE u.api_key_id = p_key AND u.created_at > v_from AND u.created_at <= v_cutoff);
        v_from := v_cutoff;
    END IF;
    IF v_used >= p_quota THEN
        UPDATE quota_counters c SET used = v_used, counted_from = v_from WHERE c.api_key_id = p_key;
        RETURN QUERY
            SELECT false, v_used,
                   coalesce(extract(epoch FROM min(u.created_at) + p_window - v_now)::double precision, 0)
            FROM generation_quota_usage u
            WHERE u.api_key_id = p_key AND u.created_at > v_from;
        RETURN;
    END IF;
    INSERT INTO generation_quota_usage (api_key_id, generation_id, created_at) VALUES (p_key, p_generation, v_now);
    UPDATE quota_counters c SET used = v_used + 1, counted_from = v_from WHERE c.api_key_id = p_key;
    RETURN QUERY SELECT true, v_used + 1, 0::double precision;
END
$$;

-- Hands back a reservation whose generation was not stored (the request turned out to be a
-- replay, or storing it failed).
CREATE FUNCTION refund_generation(p_key uuid, p_generation uuid)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_from    timestamptz;
    v_created timestamptz;
BEGIN
    SELECT c.counted_from INTO v_from FROM quota_counters c WHERE c.api_key_id = p_key FOR UPDATE;
    DELETE FROM generation_quota_usage u
    WHERE u.api_key_id = p_key AND u.generation_id = p_generation
    RETURNING u.created_at INTO v_created;
    IF v_created IS NOT NULL AND v_from IS NOT NULL AND v_created > v_from THEN
        UPDATE quota_counters c SET used = c.used - 1 WHERE c.api_key_id = p_key;
    END IF;
END
$$;
