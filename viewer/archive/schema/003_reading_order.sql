-- The archive index, version 3: each instance's position along its slice normal (mm), the key
-- a series is read in (viewer.archive.stacks.reading_order: head first). Indexed with the
-- series and status so that a viewer finds a series' first image by an index seek, not by
-- reading all its instances: the first image of a 1,000-slice series must not wait for the
-- rest. NULL when the instance has no position or orientation (then the series is read in
-- Instance Number order). Rows of earlier versions are filled by viewer.archive.index after
-- this step (the key needs the normalised cross product of the direction cosines).

ALTER TABLE instances ADD COLUMN along_normal REAL;
CREATE INDEX instances_reading_order ON instances (series_ref, status, along_normal);
