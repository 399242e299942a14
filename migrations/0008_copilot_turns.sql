-- The copilot's conversation (seed 002): the user's messages and the copilot's answers, and the
-- steps of each answer as they were streamed. An answer is a job: it is queued with the user's
-- message, run by a worker, and holds its proposal until a snapshot applies it.

CREATE TABLE copilot_messages (
    id             uuid PRIMARY KEY,
    session_id     uuid NOT NULL CONSTRAINT copilot_messages_session_fkey
                       REFERENCES copilot_sessions (id) ON DELETE CASCADE,
    role           text NOT NULL CHECK (role IN ('user', 'copilot')),
    -- The user's text, or the copilot's reply once written.
    content        text NOT NULL DEFAULT '',
    -- A user message: the BPMN in the client's editor, when it sent it.
    diagram_state  text,
    -- A copilot answer: the user message it answers, and the model that answers it.
    reply_to       uuid CONSTRAINT copilot_messages_reply_to_fkey
                       REFERENCES copilot_messages (id) ON DELETE CASCADE,
    model          text,
    status         text CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    -- The diagram's latest version when the turn was asked; a snapshot needs it to be latest still.
    base_version   integer,
    proposed_bpmn  text,
    diagram_diff   jsonb,
    -- The version a snapshot made of the proposal.
    applied_version integer,
    error          jsonb,
    -- The job's lifecycle, as a generation's: attempts, the running attempt's lease, and when
    -- its job was last published (NULL: not yet confirmed, so the relay publishes it).
    attempts       integer NOT NULL DEFAULT 0,
    lease_expires_at timestamptz,
    published_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz,
    CHECK ((role = 'copilot') = (status IS NOT NULL))
);

-- The conversation in order: ids are UUIDv7, so they sort by creation.
CREATE INDEX copilot_messages_session_idx ON copilot_messages (session_id, id);
-- The relay's look for turns to publish or take back.
CREATE INDEX copilot_messages_open_idx ON copilot_messages (status, created_at)
    WHERE status IN ('queued', 'running');

-- The steps of an answer, in the order they were streamed: status, tool_call, tool_result and
-- content_delta. `complete` and `error` are not stored here; the answer's row says them.
CREATE TABLE copilot_events (
    message_id uuid NOT NULL CONSTRAINT copilot_events_message_fkey
                   REFERENCES copilot_messages (id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    event      text NOT NULL,
    data       jsonb NOT NULL,
    PRIMARY KEY (message_id, seq)
);
