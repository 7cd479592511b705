-- The archive index, version 4: what a bounded local cache needs to remove a study safely
-- (viewer.archive.retention). Applied by viewer.archive.index inside one transaction that also
-- sets PRAGMA user_version = 4; existing rows are kept as they are (never viewed, nothing
-- committed), so an upgraded archive prunes nothing until a PACS has committed its studies.

-- When a reader last opened the study (the reading window, `view`); ISO 8601, UTC, like
-- instances.imported_at. NULL: never opened since version 4; pruning then uses the study's
-- latest import.
ALTER TABLE studies ADD COLUMN last_viewed_at TEXT;

-- Storage commitment results (PS3.4 annex J), one row per instance and committing node: the
-- latest answer of that node wins. A commitment speaks for the bytes the node was sent: the
-- instance's sha256 then, and the time the answer came; an instance imported again (a new row,
-- so its commitments are gone with the old one) or changed since is not committed.
CREATE TABLE commitments (
    instance_ref    INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    ae_title        TEXT NOT NULL,  -- the committing node's AE title
    status          TEXT NOT NULL CHECK (status IN ('committed', 'failed')),
    reason          TEXT NOT NULL DEFAULT '',  -- Failure Reason (0008,1197), as text
    sha256          TEXT NOT NULL,  -- instances.sha256 when the answer came
    transaction_uid TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,  -- ISO 8601, UTC
    PRIMARY KEY (instance_ref, ae_title)
);
