-- The archive index, version 5: what references what (viewer.dicom.references), so a viewer
-- finds from an image its presentation states, the key object documents that flag it and the
-- SR, SEG and RTSTRUCT objects made for it without reading a file. Applied by
-- viewer.archive.index inside one transaction that also sets PRAGMA user_version = 5 and
-- back-fills these tables from the stored files of the instances already indexed whose SOP
-- class is a presentation state, KOS, SR, SEG or RT Structure Set
-- (viewer.archive.reference_index.backfill_references). New instances get their rows in the
-- transaction that adds their instance row; both tables go with it (ON DELETE CASCADE).

-- One row per referencing object: its kind and how it names itself. Every instance of such a
-- SOP class has a row, even one that references nothing readable, so that "not indexed yet"
-- (a file missing during the upgrade) can be told from "references nothing".
CREATE TABLE referencing_objects (
    instance_ref INTEGER PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL
        CHECK (kind IN ('presentation', 'key-objects', 'sr', 'seg', 'rtstruct')),
    label        TEXT NOT NULL DEFAULT '',  -- Content Label; KOS/SR: the document title
    description  TEXT NOT NULL DEFAULT '',
    title        TEXT NOT NULL DEFAULT '',  -- KOS/SR: Concept Name's Code Meaning
    content_date TEXT NOT NULL DEFAULT '',  -- DA 'YYYYMMDD'
    content_time TEXT NOT NULL DEFAULT ''   -- TM
);
-- No index on kind: every query comes from a referenced UID or a study, whose indexes lead
-- here by the primary key (an index on kind made SQLite scan every presentation state).

-- One row per referenced (SOP Instance, frame, presentation state), in the object's order.
CREATE TABLE object_references (
    instance_ref           INTEGER NOT NULL
        REFERENCES referencing_objects (instance_ref) ON DELETE CASCADE,
    position               INTEGER NOT NULL,  -- 0-based order in the object
    sop_instance_uid       TEXT NOT NULL,     -- the referenced instance
    sop_class_uid          TEXT NOT NULL DEFAULT '',
    series_uid             TEXT NOT NULL DEFAULT '',  -- as the object names it; '' unknown
    frame                  INTEGER,           -- 1-based; NULL: the whole instance
    presentation_state_uid TEXT,              -- the PS a KOS/SR IMAGE item names; else NULL
    role                   TEXT NOT NULL CHECK (role IN ('image', 'composite', 'evidence')),
    PRIMARY KEY (instance_ref, position)
);
CREATE INDEX object_references_uid ON object_references (sop_instance_uid, frame);
