-- The archive index, version 6: data-quality findings (viewer.quality), so the browser shows a
-- badge per study and series and a report per file without validating again. Findings are
-- derived data: validating the stored files again restores them, so `check --repair` rebuilds
-- no finding, only marks studies "pending". Applied by viewer.archive.index inside one
-- transaction that also sets PRAGMA user_version = 6; every study already indexed starts
-- "pending" (never validated). Every row goes with its study or instance (ON DELETE CASCADE):
-- `delete`, retention and `remove_instance` need nothing here.

-- One row per study: validated (the findings below are those of all its instances) or
-- pending (never validated, or instances arrived since); the counts of the latest validation.
CREATE TABLE study_validation (
    study_ref    INTEGER PRIMARY KEY REFERENCES studies (id) ON DELETE CASCADE,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'validated')),
    errors       INTEGER NOT NULL DEFAULT 0,  -- file and study findings, as validated
    warnings     INTEGER NOT NULL DEFAULT 0,
    validated_at TEXT                         -- ISO 8601, UTC; NULL: never validated
);
INSERT INTO study_validation (study_ref) SELECT id FROM studies;

-- A study with a new instance is pending again: its study findings no longer cover all its
-- files. A trigger, so that every path that indexes (import, SCP, recovery, check --repair)
-- does it in the instance's own transaction.
CREATE TRIGGER instances_pending_validation AFTER INSERT ON instances
BEGIN
    INSERT INTO study_validation (study_ref)
        SELECT study_ref FROM series WHERE id = NEW.series_ref
        ON CONFLICT (study_ref) DO UPDATE SET state = 'pending';
END;

-- One row per finding of one stored file (viewer.quality.findings.Finding), in its order.
CREATE TABLE instance_findings (
    instance_ref INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,  -- 0-based order in the file's findings
    iod          TEXT NOT NULL DEFAULT '',  -- dciodvfy's IOD name the file was checked against
    severity     TEXT NOT NULL CHECK (severity IN ('error', 'warning')),
    tag          TEXT NOT NULL DEFAULT '',  -- "(gggg,eeee)"; '' for the whole file
    keyword      TEXT NOT NULL DEFAULT '',
    module       TEXT NOT NULL DEFAULT '',
    message      TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '',  -- dciodvfy's own words
    PRIMARY KEY (instance_ref, position)
);

-- One row per consistency finding of a study or of one of its series
-- (viewer.quality.findings.StudyFinding), in its order; series_uid '' for the whole study.
CREATE TABLE study_findings (
    study_ref  INTEGER NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    series_uid TEXT NOT NULL DEFAULT '',
    severity   TEXT NOT NULL CHECK (severity IN ('error', 'warning')),
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    PRIMARY KEY (study_ref, position)
);
