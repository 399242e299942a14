-- The diagram platform (seed 001): folders that nest and steer generation with their context,
-- diagrams with numbered versions, and the generations that add versions to a diagram.
--
-- Every row belongs to an owner in one mode: a test key's data and a live key's data are kept
-- apart even for the same owner, as seed 001 keeps staging apart from production.

CREATE TABLE folders (
    id         uuid PRIMARY KEY,
    owner      text NOT NULL,
    livemode   boolean NOT NULL,
    -- RESTRICT: a folder with sub-folders cannot be deleted, even by a delete that raced a move.
    parent_id  uuid CONSTRAINT folders_parent_fkey REFERENCES folders (id) ON DELETE RESTRICT,
    name       text NOT NULL,
    -- What steers generation of the diagrams inside, at most 4,000 characters.
    context    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX folders_owner_created_idx ON folders (owner, livemode, created_at DESC, id DESC);
CREATE INDEX folders_parent_idx ON folders (parent_id, created_at DESC, id DESC);

CREATE TABLE diagrams (
    id            uuid PRIMARY KEY,
    owner         text NOT NULL,
    livemode      boolean NOT NULL,
    folder_id     uuid CONSTRAINT diagrams_folder_fkey REFERENCES folders (id) ON DELETE RESTRICT,
    name          text NOT NULL,
    -- The generation the diagram was made from, if any. Deferred, because a diagram made from a
    -- prompt and its generation are inserted in one transaction and each names the other.
    generation_id uuid CONSTRAINT diagrams_generation_fkey REFERENCES generations (id)
                      ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX diagrams_owner_created_idx ON diagrams (owner, livemode, created_at DESC, id DESC);
CREATE INDEX diagrams_folder_idx ON diagrams (folder_id, created_at DESC, id DESC);

CREATE TABLE diagram_versions (
    diagram_id     uuid NOT NULL CONSTRAINT diagram_versions_diagram_fkey
                       REFERENCES diagrams (id) ON DELETE CASCADE,
    version_number integer NOT NULL,
    bpmn_xml       text NOT NULL,
    -- The generation whose result this version is; none for an import or an uploaded version.
    generation_id  uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (diagram_id, version_number)
);

-- A generation made for a diagram: when it succeeds, its option `diagram_option` becomes the
-- diagram's next version, in the transaction that stores the result.
ALTER TABLE generations
    ADD COLUMN diagram_id uuid CONSTRAINT generations_diagram_fkey REFERENCES diagrams (id) ON DELETE SET NULL,
    ADD COLUMN diagram_option integer,
    -- The folder contexts that steered it, outermost first: [{folder_id, folder_name, context}].
    ADD COLUMN context jsonb NOT NULL DEFAULT '[]',
    ADD CONSTRAINT generations_diagram_option_check CHECK (diagram_id IS NULL OR diagram_option IS NOT NULL);

-- Listings are per owner and mode now.
DROP INDEX generations_owner_created_idx;
CREATE INDEX generations_owner_created_idx ON generations (owner, livemode, created_at DESC, id DESC);

-- An Idempotency-Key belongs to a workspace too: a test key and a live key of one owner may use
-- the same key for different requests.
ALTER TABLE idempotency_keys ADD COLUMN livemode boolean NOT NULL DEFAULT true;
UPDATE idempotency_keys i SET livemode = g.livemode FROM generations g WHERE g.id = i.generation_id;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (owner, livemode, key);
