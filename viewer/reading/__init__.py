"""The reading room (Qt-free): hanging protocols, their matching and viewport assignment, the
DICOM Hanging Protocol IOD, and the priors of a study (in the archive and at a PACS)."""
