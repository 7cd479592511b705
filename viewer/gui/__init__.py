"""The Qt face: the only room where PySide6 appears."""
