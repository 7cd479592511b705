"""DICOMization (issue 18): photos (JPEG, PNG) and documents (PDF) become DICOM instances of a
patient's study, with the patient and order data of a worklist item, of a study in the
archive, or typed; imported through `archive.importer`. Qt-free; no network: the faces do the
worklist C-FIND and the sending, and hand this room the item and the files."""
