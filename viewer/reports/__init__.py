"""Structured reports and key object selections as Qt-free models (PS3.3 C.17, PS3.16).

May import `viewer.dicom` only. `content_tree` reads any SR into a frozen tree of content items;
`measurements` and `dose` read templates (TID 1500, TID 10011) out of such a tree.
"""
