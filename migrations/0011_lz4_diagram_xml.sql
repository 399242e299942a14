-- Diagrams' XML is compressed with LZ4 rather than Postgres's default, pglz.
--
-- While one worker drained a backlog of builtin generations, pglz_compress took 13% of the
-- machine's CPU (perf, system-wide): each generation stores three options of about 10 KB of
-- XML. LZ4 compresses that XML to 2.7 KB where pglz made 2.1 KB, in a fraction of the time,
-- and reads it back faster. Values stored before keep pglz; both read the same.
--
-- Only new values change, so this takes no rewrite. A server built without LZ4 keeps pglz:
-- nothing depends on the method.
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_settings
        WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)
    ) THEN
        ALTER TABLE generation_versions ALTER COLUMN bpmn_xml SET COMPRESSION lz4;
        ALTER TABLE diagram_versions ALTER COLUMN bpmn_xml SET COMPRESSION lz4;
        ALTER TABLE copilot_messages ALTER COLUMN diagram_state SET COMPRESSION lz4;
        ALTER TABLE copilot_messages ALTER COLUMN proposed_bpmn SET COMPRESSION lz4;
    END IF;
END
$$;
