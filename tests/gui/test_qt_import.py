"""viewer.gui.qt_import: PySide6's module check must not keep every module's source in memory."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import linecache, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from viewer.gui.qt_import import import_qt
import_qt()
import pyqtgraph  # imported after Qt: checked by the import hook
feature = sys.modules["shibokensupport.feature"]
checked = feature.pyside_feature_dict
print(len(linecache.cache), checked.get("pyqtgraph.Qt"), checked.get("pyqtgraph.colormap"))
"""


def test_qt_import_keeps_no_module_source() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    # nothing cached; PySide6 still learns which modules use it (0) and which do not (-1)
    assert out == ["0", "0", "-1"]
