"""Translations (viewer.gui.i18n): the zh_CN .ts is complete for the strings the code has now,
and installing it changes what tr() returns."""

from __future__ import annotations

import ast
import logging
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from pydicom.dataelem import DataElement  # noqa: E402
from PySide6.QtCore import QCoreApplication, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.dicom.makers import image_dataset, save  # noqa: E402
from tests.gui.translations import TS, compile_zh_cn, tool  # noqa: E402
from viewer.gui import i18n  # noqa: E402
from viewer.gui.i18n import QM_DIR, install_translator  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GUI = ROOT / "viewer" / "gui"
# The same options as packaging/update_translations.sh.
LUPDATE_OPTIONS = ["-silent", "-locations", "none", "-no-obsolete"]
PLACEHOLDER = re.compile(r"\{\w*\}|%\d+|%n")

Key = tuple[str, str, str]  # context, source text, disambiguation comment


def messages(ts: Path) -> dict[Key, ET.Element]:
    out = {}
    for context in ET.parse(ts).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            key = (name, message.findtext("source") or "", message.findtext("comment") or "")
            out[key] = message
    return out


def translations(message: ET.Element) -> list[str]:
    element = message.find("translation")
    assert element is not None
    forms = element.findall("numerusform") or [element]
    return [form.text or "" for form in forms]


def fresh_lupdate(out: Path) -> Path:
    sources = sorted(str(p) for p in GUI.glob("*.py"))
    ts = out / "fresh.ts"
    subprocess.run(
        [str(tool("pyside6-lupdate")), *LUPDATE_OPTIONS, "-target-language", "zh_CN",
         *sources, "-ts", str(ts)],
        check=True, capture_output=True, timeout=120,
    )
    return ts


def test_ts_has_no_unfinished_or_empty_translation() -> None:
    found = messages(TS)
    assert len(found) > 50
    bad = []
    for key, message in found.items():
        kind = message.find("translation").get("type")  # type: ignore[union-attr]
        if kind is not None or not all(t.strip() for t in translations(message)):
            bad.append(key)
    assert not bad, f"unfinished or empty translations in {TS.name}: {bad}"


def test_translations_keep_their_placeholders() -> None:
    wrong = []
    for (context, source, _), message in messages(TS).items():
        wanted = sorted(PLACEHOLDER.findall(source))
        wrong.extend(
            (context, source, text)
            for text in translations(message)
            if sorted(PLACEHOLDER.findall(text)) != wanted
        )
    assert not wrong, f"placeholders lost or added: {wrong}"


def test_every_string_in_the_code_is_translated(tmp_path: Path) -> None:
    """A new tr() string fails here until packaging/update_translations.sh is run and the new
    entries are translated."""
    now = set(messages(fresh_lupdate(tmp_path)))
    assert len(now) > 50
    missing = sorted(now - set(messages(TS)))
    assert not missing, (
        "strings in viewer/gui without a zh_CN translation (run "
        f"packaging/update_translations.sh, then translate them): {missing}"
    )


def test_every_context_is_one_qt_looks_up(tmp_path: Path) -> None:
    """self.tr() looks strings up under the class name, QCoreApplication.translate under its
    first argument. lupdate files a `tr = obj.tr; tr("x")` alias under a made-up context (or
    none), which the running program never asks for: such strings would stay English."""
    runtime: set[str] = set()
    for path in GUI.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                runtime.add(node.name)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "translate" and node.args
                  and isinstance(node.args[0], ast.Constant)):
                runtime.add(str(node.args[0].value))
    filed = {context for context, _, _ in messages(fresh_lupdate(tmp_path))}
    stray = sorted(filed - runtime)
    assert not stray, (
        f"lupdate files strings under contexts no code looks up: {stray}; write "
        "self.tr('...') in the class, or QCoreApplication.translate('Class', '...')"
    )


@pytest.fixture(scope="module")
def qm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed .qm when it is up to date with the .ts, else one compiled now."""
    installed = QM_DIR / "dicom_viewer_zh_CN.qm"
    if installed.exists() and installed.stat().st_mtime >= TS.stat().st_mtime:
        return QM_DIR
    return compile_zh_cn(tmp_path_factory.mktemp("qm"))


@pytest.fixture
def app(qapp: QApplication) -> Iterator[QApplication]:
    yield qapp
    install_translator(qapp, "en")  # the next test sees English again


def test_zh_cn_translates_and_en_is_the_source(app: QApplication, qm_dir: Path) -> None:
    assert install_translator(app, "zh_CN", directory=qm_dir) == "zh_CN"
    assert QCoreApplication.translate("TagBrowser", "Tag Browser") == "标签浏览器"
    assert QCoreApplication.translate("TagTreeModel", "Value") == "值"
    assert i18n.installed_language() == "zh_CN"
    assert install_translator(app, "en", directory=qm_dir) == "en"
    assert QCoreApplication.translate("TagBrowser", "Tag Browser") == "Tag Browser"
    assert i18n.installed_language() == "en"


def test_language_spellings_and_environment(
    app: QApplication, qm_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert install_translator(app, "zh-CN", directory=qm_dir) == "zh_CN"
    assert install_translator(app, "zh", directory=qm_dir) == "zh_CN"  # Chinese: Simplified
    # Traditional Chinese is not Simplified: English until there is a zh_TW translation.
    assert install_translator(app, "zh_TW", directory=qm_dir) == "en"
    monkeypatch.setenv("VIEWER_LANGUAGE", "zh_CN")
    assert install_translator(app, directory=qm_dir) == "zh_CN"
    assert QCoreApplication.translate("TagTreeModel", "Tag") == "标签"
    assert install_translator(app, "en", directory=qm_dir) == "en"  # the argument wins


@pytest.mark.parametrize(
    ("system", "expected"), [("zh_CN.UTF-8", "zh_CN"), ("en_US.UTF-8", "en"), ("C", "en")]
)
def test_system_locale_chooses(qm_dir: Path, tmp_path: Path, system: str, expected: str) -> None:
    """No argument, no VIEWER_LANGUAGE: Qt's system locale (from LC_ALL / LANG) decides; a new
    process, because Qt reads the system locale once."""
    script = (
        "import sys; from pathlib import Path; from PySide6.QtCore import QCoreApplication;"
        "from viewer.gui.i18n import install_translator;"
        "app = QCoreApplication([]);"
        "print(install_translator(app, directory=Path(sys.argv[1])));"
        "print(QCoreApplication.translate('TagBrowser', 'Tag Browser'))"
    )
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIEWER_LANGUAGE", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(LC_ALL=system, LANG=system, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", script, str(qm_dir)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )
    language, title = done.stdout.split("\n")[:2]
    assert language == expected
    assert title == ("标签浏览器" if expected == "zh_CN" else "Tag Browser")


def test_missing_qm_falls_back_to_english(
    app: QApplication, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="viewer.gui.i18n"):
        assert install_translator(app, "zh_CN", directory=tmp_path) == "en"
    assert any("no dicom_viewer translation" in r.getMessage() for r in caplog.records)
    assert QCoreApplication.translate("TagBrowser", "Tag Browser") == "Tag Browser"


def test_tag_browser_in_chinese(qtbot, app: QApplication, qm_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from viewer.gui.tags import TagBrowser, TagTreeModel

    ds = image_dataset(np.zeros((16, 16), np.uint16), Modality="CT")
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds[0x00100010] = DataElement(0x00100010, "PN", "张^三丰".encode())
    path = save(ds, tmp_path / "zh.dcm")
    install_translator(app, "zh_CN", directory=qm_dir)
    browser = TagBrowser()
    qtbot.addWidget(browser)
    browser.show()
    assert browser.show_file(path)
    assert browser.windowTitle().startswith("标签浏览器")
    header = [browser.model.headerData(c, Qt.Orientation.Horizontal) for c in range(4)]
    assert header == ["标签", "名称", "VR", "值"]
    assert browser.status.text() == f"共 {browser.model.rowCount()} 行"
    qtbot.mouseClick(browser.search, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(browser.search, "PatientName")
    qtbot.waitUntil(lambda: browser.model.rowCount() == 1)
    index = browser.model.index(0, TagTreeModel.VALUE)
    assert browser.model.data(index) == "张^三丰"
    browser.resize(900, 300)
    Path("/tmp/screens").mkdir(parents=True, exist_ok=True)
    assert browser.grab().save("/tmp/screens/tags_zh.png")


def test_the_import_summary_in_chinese(qtbot, app: QApplication, qm_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """The summary box moved from the browser to viewer.gui.import_job with its strings: they
    are looked up under its own class (ImportSummary) now, and still translated."""
    from viewer.archive.importer import ImportReport
    from viewer.gui.import_job import ImportSummary
    from viewer.jobs import Failure

    install_translator(app, "zh_CN", directory=qm_dir)
    report = ImportReport()
    report.failed.append(Failure("/data/bad.dcm", "not a DICOM file"))
    box = ImportSummary(report)
    qtbot.addWidget(box)
    assert box.windowTitle() == "导入完成"
    assert box.text().startswith("已导入")
    assert box.informativeText() == "bad.dcm: not a DICOM file"


def test_the_import_summary_counts_other_syntaxes_apart(  # type: ignore[no-untyped-def]
    qtbot, app: QApplication, qm_dir: Path
) -> None:
    """Issue 15 item 3: the same instance in another transfer syntax has its own line and its
    own section in the details, in English and in Chinese; it is not a problem (no warning)."""
    from PySide6.QtWidgets import QMessageBox

    from viewer.archive.importer import CONFLICT_REASON, ImportReport
    from viewer.gui.import_job import ImportSummary
    from viewer.jobs import Failure

    report = ImportReport(imported=["/d/emri_small.dcm"],
                          present_other_syntax=["/d/emri_small_RLE.dcm"])
    box = ImportSummary(report)
    qtbot.addWidget(box)
    assert "Already present in another transfer syntax: 1\nConflicts: 0" in box.text()
    assert box.icon() == QMessageBox.Icon.Information
    assert box.informativeText() == ""
    assert box.detailedText() == (
        "Already present in another transfer syntax (the stored copy was kept):\n"
        "/d/emri_small_RLE.dcm"
    )

    install_translator(app, "zh_CN", directory=qm_dir)
    report.conflicts.append(Failure("/d/SC_rgb_16bit.dcm", CONFLICT_REASON))
    box = ImportSummary(report)
    qtbot.addWidget(box)
    assert "已以其他传输语法存在：1\n冲突：1" in box.text()
    assert "已以其他传输语法存在（保留了已存储的副本）：\n/d/emri_small_RLE.dcm" in (
        box.detailedText()
    )
    assert box.informativeText() == f"SC_rgb_16bit.dcm: {CONFLICT_REASON}"
