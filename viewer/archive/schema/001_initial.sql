-- The archive index, version 1: patients -> studies -> series -> instances.
-- Applied by viewer.archive.index inside one transaction that also sets PRAGMA user_version = 1.
-- Text columns hold decoded text (names as PN values "Family^Given=Ideographic=Phonetic").
-- Counts and sizes are stored aggregates, kept by the same transaction that adds or removes an
-- instance, so a browser never runs COUNT(*) over instances.

CREATE TABLE patients (
    id              INTEGER PRIMARY KEY,
    patient_id      TEXT NOT NULL,
    name            TEXT NOT NULL,  -- decoded PN value
    -- search keys: NFKC + casefold of the whole value and of the ideographic and phonetic
    -- groups, so '张*' finds "Zhang^San=张^三" (PS3.5 6.2.1)
    name_key        TEXT NOT NULL,
    ideographic_key TEXT NOT NULL DEFAULT '',
    phonetic_key    TEXT NOT NULL DEFAULT '',
    birth_date      TEXT NOT NULL DEFAULT '',
    sex             TEXT NOT NULL DEFAULT '',
    UNIQUE (patient_id, name)
);
CREATE INDEX patients_name_key ON patients (name_key);
CREATE INDEX patients_ideographic_key ON patients (ideographic_key);
CREATE INDEX patients_patient_id ON patients (patient_id);

CREATE TABLE studies (
    id                  INTEGER PRIMARY KEY,
    study_uid           TEXT NOT NULL UNIQUE,
    patient_ref         INTEGER NOT NULL REFERENCES patients (id),
    study_date          TEXT NOT NULL DEFAULT '',  -- 'YYYYMMDD'
    study_time          TEXT NOT NULL DEFAULT '',
    description         TEXT NOT NULL DEFAULT '',
    accession_number    TEXT NOT NULL DEFAULT '',
    referring_physician TEXT NOT NULL DEFAULT '',  -- decoded PN value
    modalities          TEXT NOT NULL DEFAULT '',  -- Modalities in Study, sorted, '\'-separated
    series_count        INTEGER NOT NULL DEFAULT 0,
    instance_count      INTEGER NOT NULL DEFAULT 0,
    size_bytes          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX studies_patient ON studies (patient_ref);
CREATE INDEX studies_date ON studies (study_date, study_time);

CREATE TABLE series (
    id             INTEGER PRIMARY KEY,
    series_uid     TEXT NOT NULL UNIQUE,
    study_ref      INTEGER NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    series_number  INTEGER,
    modality       TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    instance_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX series_study ON series (study_ref);
CREATE INDEX series_modality ON series (modality, study_ref);

CREATE TABLE instances (
    id                  INTEGER PRIMARY KEY,
    sop_instance_uid    TEXT NOT NULL UNIQUE,
    series_ref          INTEGER NOT NULL REFERENCES series (id) ON DELETE CASCADE,
    sop_class_uid       TEXT NOT NULL,
    transfer_syntax_uid TEXT NOT NULL,
    instance_number     INTEGER,
    frames              INTEGER NOT NULL DEFAULT 1,
    store_path          TEXT NOT NULL UNIQUE,  -- relative to the archive root
    size_bytes          INTEGER NOT NULL,
    sha256              TEXT NOT NULL,
    imported_at         TEXT NOT NULL,  -- ISO 8601, UTC
    status              TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'missing'))
);
CREATE INDEX instances_series ON instances (series_ref, instance_number);
