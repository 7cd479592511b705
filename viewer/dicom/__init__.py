"""DICOM knowledge on pydicom datasets: records, pixel access, the display pipeline, text."""
