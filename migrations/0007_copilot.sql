-- The copilot (seed 002): one conversation per diagram, and each workspace's choice of model.
-- A session belongs to its diagram's workspace, and goes when the diagram goes.

CREATE TABLE copilot_sessions (
    id         uuid PRIMARY KEY,
    owner      text NOT NULL,
    livemode   boolean NOT NULL,
    diagram_id uuid NOT NULL CONSTRAINT copilot_sessions_diagram_fkey
                   REFERENCES diagrams (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- At most one session per diagram: a second create finds this one instead.
    CONSTRAINT copilot_sessions_diagram_key UNIQUE (diagram_id)
);

-- The model the copilot runs for a workspace; `builtin` when there is no row.
CREATE TABLE copilot_settings (
    owner      text NOT NULL,
    livemode   boolean NOT NULL,
    model      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, livemode)
);
