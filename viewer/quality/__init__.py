"""Data quality (Qt-free): each file against its IOD (dciodvfy) and each study and series for
consistency (patient identity, duplicates, geometry, character sets). Findings are small frozen
values (`findings.py`) that `validate`, the import's background pass and the browser share."""
