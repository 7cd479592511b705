"""Reading-room documents as Qt-free values (PS3.3 C.17, PS3.16); may import `viewer.dicom` only.

Made by us: `create_ps` (a Grayscale Softcopy Presentation State from what the user sees,
`view_state`'s values in) and `create_kos` (Key Object Selection). Read: `report_file.read_report`
opens an SR file; `content_tree.read_content_tree(ds)` reads any SR data set into a frozen tree
of content items (`raw_sequence` reads its sequences from their bytes); `measurements` (TID 1500)
and `dose` (TID 10011, X-ray dose) read templates out of a tree; `describe` gives each item as one
line or JSON for the `sr` verb and the report panel; `benchmark` times issue 17's SR target.
"""
