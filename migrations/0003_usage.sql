-- What a language model spent on a generation: tokens, requests and repair rounds.
ALTER TABLE generations ADD COLUMN usage jsonb;
