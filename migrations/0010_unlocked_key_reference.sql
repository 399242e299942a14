-- A generation's `api_key_id` no longer has a foreign-key constraint; a trigger on `api_keys`
-- keeps what the constraint guarded.
--
-- The constraint's check locks the key's row (`FOR KEY SHARE`) in every transaction that
-- inserts a generation. A busy key's concurrent inserts all share that one row lock, which
-- Postgres records as a MultiXact, written and looked up again on each insert. pgbench, 32
-- clients each inserting rows that reference one parent row: 7,452 and 8,620 TPS with the
-- constraint, 9,816 and 11,803 without (two runs each, alternating).
--
-- Inserting a generation needs no check: only a request its key has just authenticated inserts
-- one, and keys are revoked (`revoked_at`), never deleted. Deleting a key that generations
-- still name is refused, as the constraint refused it.
ALTER TABLE generations DROP CONSTRAINT generations_api_key_fkey;

CREATE FUNCTION refuse_deleting_a_used_key() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM generations WHERE api_key_id = OLD.id) THEN
        RAISE EXCEPTION 'API key % is named by generations; revoke it instead', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END
$$;

CREATE TRIGGER api_keys_refuse_deleting_a_used_key
    BEFORE DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION refuse_deleting_a_used_key();
