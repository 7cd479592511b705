"""DICOM networking: node configuration, SCU functions and the Storage SCP."""
