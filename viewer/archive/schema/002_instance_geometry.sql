-- The archive index, version 2: what a viewer needs per instance to open a series without
-- reading a single header (Image Pixel, Image Plane and General Image facts, PS3.3 C.7.6.3,
-- C.7.6.2, C.7.6.1). Applied by viewer.archive.index inside one transaction that also sets
-- PRAGMA user_version = 2; existing rows keep NULL geometry (their stacks sort by Instance
-- Number) until they are imported again.
--
-- Multi-valued numbers are one REAL column per value, not DS-like text: a REAL is the IEEE
-- double the header's DS parsed to, so it reads back bit for bit with no parsing on the path
-- that opens a 1,000-slice series, and a value is either wholly there or NULL.

ALTER TABLE instances ADD COLUMN rows INTEGER;
ALTER TABLE instances ADD COLUMN columns INTEGER;
-- Image Position (Patient) (0020,0032), mm, LPS; of the first frame for enhanced objects
ALTER TABLE instances ADD COLUMN position_x REAL;
ALTER TABLE instances ADD COLUMN position_y REAL;
ALTER TABLE instances ADD COLUMN position_z REAL;
-- Image Orientation (Patient) (0020,0037): row direction cosines, then column
ALTER TABLE instances ADD COLUMN orientation_row_x REAL;
ALTER TABLE instances ADD COLUMN orientation_row_y REAL;
ALTER TABLE instances ADD COLUMN orientation_row_z REAL;
ALTER TABLE instances ADD COLUMN orientation_col_x REAL;
ALTER TABLE instances ADD COLUMN orientation_col_y REAL;
ALTER TABLE instances ADD COLUMN orientation_col_z REAL;
-- Pixel Spacing (0028,0030), mm: row spacing then column spacing; Imager Pixel Spacing
-- (0018,1164) when the file has only that, and then spacing_source says so
ALTER TABLE instances ADD COLUMN spacing_row REAL;
ALTER TABLE instances ADD COLUMN spacing_col REAL;
ALTER TABLE instances ADD COLUMN spacing_source TEXT NOT NULL DEFAULT ''
    CHECK (spacing_source IN ('', 'ImagerPixelSpacing'));
ALTER TABLE instances ADD COLUMN slice_thickness REAL;
ALTER TABLE instances ADD COLUMN slice_location REAL;
ALTER TABLE instances ADD COLUMN frame_of_reference_uid TEXT NOT NULL DEFAULT '';
-- Lossy Image Compression (0028,2110): 1 for '01', 0 for '00', NULL when absent
ALTER TABLE instances ADD COLUMN lossy INTEGER CHECK (lossy IN (0, 1));
