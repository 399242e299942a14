-- Indexes for the two references between diagrams and generations, which deleting either row
-- follows. Without them, deleting a diagram read every generation (`ON DELETE SET NULL` of
-- `generations.diagram_id`), and deleting a generation read every diagram; the first is the
-- largest table, and the delete held the diagram's row lock while it read it.
--
-- Partial: most generations are made for no diagram, so the indexes hold only the rows that
-- name one. A cascade's `WHERE diagram_id = $1` implies the
-- predicate, so the planner uses them.
CREATE INDEX generations_diagram_idx ON generations (diagram_id) WHERE diagram_id IS NOT NULL;
CREATE INDEX diagrams_generation_idx ON diagrams (generation_id) WHERE generation_id IS NOT NULL;
