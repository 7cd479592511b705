"""The language of the GUI: our translations (.qm compiled from resources/i18n/*.ts) and Qt's own.

The language is, first found: the `language` argument, the VIEWER_LANGUAGE environment variable,
the system locale (QLocale.system()). English is the source text, so it needs no file; any other
language whose .qm is missing falls back to English with a DEBUG log line.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

LOGGER = logging.getLogger(__name__)

DOMAIN = "dicom_viewer"  # files are dicom_viewer_<language>.qm
QM_DIR = Path(__file__).with_name("translations")  # written by packaging/install.sh (lrelease)
ENV_LANGUAGE = "VIEWER_LANGUAGE"
SOURCE_LANGUAGE = "en"

# The translators installed by the last call: kept referenced (Qt does not own them) and removed
# when the language changes.
_INSTALLED: list[QTranslator] = []


def install_translator(
    app: QCoreApplication, language: str | None = None, *, directory: Path | None = None
) -> str:
    """Install the translation for `language` ("zh_CN", "zh-CN", "en"; None: VIEWER_LANGUAGE,
    then the system locale) into `app`, with Qt's own qtbase translation when there is one.

    `directory` holds our .qm files (default QM_DIR). Returns the language in use: the
    translation's language ("zh_CN"), or "en" when the source text is shown.
    """
    for old in _INSTALLED:
        app.removeTranslator(old)
    _INSTALLED.clear()

    wanted = language or os.environ.get(ENV_LANGUAGE) or None
    locale = QLocale(wanted.replace("-", "_")) if wanted else QLocale.system()
    if locale.language() in (QLocale.Language.English, QLocale.Language.C):
        return SOURCE_LANGUAGE

    ours = QTranslator(app)
    folder = directory or QM_DIR
    # load(locale, ...) tries the locale's UI languages in turn: zh_Hans_CN, zh_CN, zh ...
    if not ours.load(locale, DOMAIN, "_", str(folder)):
        LOGGER.debug("no %s translation for %s in %s: English", DOMAIN, locale.name(), folder)
        return SOURCE_LANGUAGE
    app.installTranslator(ours)
    _INSTALLED.append(ours)

    qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    qt = QTranslator(app)
    if qt.load(locale, "qtbase", "_", qt_dir):  # Qt's own dialogs and buttons
        app.installTranslator(qt)
        _INSTALLED.append(qt)
    else:
        LOGGER.debug("no qtbase translation for %s in %s", locale.name(), qt_dir)
    return ours.language() or locale.name()


def installed_language() -> str:
    """The language the last install_translator call put in place ("en" when none)."""
    return _INSTALLED[0].language() if _INSTALLED else SOURCE_LANGUAGE
