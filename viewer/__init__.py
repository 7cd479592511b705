"""dicom-viewer: a DICOM workstation. See ARCHITECTURE.md for the rooms and what each may import."""

__version__ = "0.1.0"
