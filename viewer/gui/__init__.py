"""The Qt face: the only room where PySide6 and pyqtgraph appear."""
