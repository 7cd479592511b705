"""DICOMDIR media: reading file-sets and exporting studies to CD/DVD folders."""
