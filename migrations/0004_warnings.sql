-- What a generation could not carry over from its source diagram, shown to the client.
ALTER TABLE generations ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]';
