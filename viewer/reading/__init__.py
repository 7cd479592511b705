"""The reading room (Qt-free): hanging protocols, their matching and viewport assignment, the
DICOM Hanging Protocol IOD, the priors of a study (in the archive and at a PACS), and the key
images of the study being read (key_images.py)."""
