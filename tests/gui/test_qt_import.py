"""viewer.gui.qt_import: PySide6's module check must not keep every module's source in memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import linecache, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from viewer.gui.qt_import import import_qt
import_qt()
sys.path.insert(0, sys.argv[1])
import qt_user, qt_free  # imported after Qt: checked by the import hook
feature = sys.modules["shibokensupport.feature"]
checked = feature.pyside_feature_dict
print(len(linecache.cache), checked.get("qt_user"), checked.get("qt_free"))
"""


def test_qt_import_keeps_no_module_source(tmp_path: Path) -> None:
    # Each imports a module not loaded yet: PySide6 checks the importing module then.
    (tmp_path / "qt_user.py").write_text("from PySide6 import QtPrintSupport\n")
    (tmp_path / "qt_free.py").write_text("import colorsys\n")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout.split()
    # nothing cached; PySide6 still learns which modules use it (0) and which do not (-1)
    assert out == ["0", "0", "-1"]
