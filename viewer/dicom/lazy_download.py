"""Keep pydicom's test-data downloader out of every process until a download is asked for.

Importing pydicom imports `pydicom.examples`, which finds its bundled example files through
`pydicom.data.data_manager`; that module imports five functions from `pydicom.data.download`,
and the downloader imports urllib.request, http.client, email and ssl: about a tenth of
importing pydicom (25-45 ms of `dicom-viewer info`'s start-up here), for a feature the viewer
never uses (it never fetches data at run time; tests find pydicom-data's files locally).

`install()` puts a stand-in module under `pydicom.data.download` before pydicom is imported
(the `viewer` package calls it on import). Its functions, and any other attribute, load the
real module the first time they are used and hand the call on, so pydicom behaves as before
whenever a download or a hash check is really asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from viewer.dicom.stand_in import load_real

NAME = "pydicom.data.download"
# What pydicom.data.data_manager imports from the downloader at its import (pydicom 3.0).
IMPORTED_NAMES = (
    "data_path_with_download", "calculate_file_hash", "get_cached_filehash", "get_url_map",
    "get_data_dir",
)
_lock = threading.Lock()


class LazyDownload(types.ModuleType):
    """Stands for `pydicom.data.download` until one of its attributes is used."""

    def __init__(self) -> None:
        super().__init__(NAME)
        for name in IMPORTED_NAMES:
            setattr(self, name, _deferred(name))

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)  # introspection must not load the downloader
        return getattr(load(), attribute)


def _deferred(name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(load(), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def install() -> bool:
    """Put the stand-in in place, unless pydicom's data package is imported already or not
    where pydicom 3 has it. True when the stand-in is (now) there."""
    current = sys.modules.get(NAME)
    if isinstance(current, LazyDownload):
        return True
    if current is not None or "pydicom.data" in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec("pydicom")
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    if not any((Path(p) / "data" / "download.py").is_file()
               for p in spec.submodule_search_locations):
        return False
    sys.modules[NAME] = LazyDownload()
    return True


def load() -> types.ModuleType:
    """The real downloader, imported now if it was not (thread-safe)."""
    return load_real(NAME, LazyDownload, _lock)
