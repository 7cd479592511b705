"""Load GDCM when a frame needs it, not when pydicom is imported.

pydicom 3 imports every decoder plugin when it is imported, and its GDCM plugins call
`gdcm.Version.GetVersion()` on the spot: every process that imports pydicom loads GDCM's
libraries (with their own OpenSSL), about 22 MiB over the viewer's process tree (`bench gui`:
660 -> 636 MiB with GDCM kept out), although only JPEG, JPEG-LS and JPEG 2000 frames use it and
most of what a workstation shows (CT, MR, CR) is stored uncompressed.

`install()` puts a stand-in module under the name `gdcm` before pydicom is imported (the
`viewer` package calls it on import). It answers `Version.GetVersion()` from the installed
package's metadata, and names looked up by a module's top-level code with deferred attributes;
any attribute used by a function loads the real GDCM, which then takes the stand-in's place in
`sys.modules` and lends it all its attributes, so modules that imported the stand-in go on
working with the real one. Nothing changes where GDCM is not installed (the import fails
as before) or where its version cannot be read without loading it.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import threading
import types
from pathlib import Path
from typing import Any

from viewer.dicom.stand_in import REAL, load_real

NAME = "gdcm"
DISTRIBUTION = "python-gdcm"
_lock = threading.Lock()


class _Version:
    """What pydicom asks of `gdcm.Version` at import."""

    def __init__(self, version: str) -> None:
        self._version = version

    def GetVersion(self) -> str:  # noqa: N802 - GDCM's name
        return self._version


class LazyGDCM(types.ModuleType):
    """Stands for the `gdcm` package until something other than its version is used."""

    def __init__(self, version: str, spec: importlib.machinery.ModuleSpec) -> None:
        super().__init__(NAME)
        self.__dict__["_lazy_version"] = version
        # what introspection asks of a module (PySide6's import hook reads every module's
        # file): answered from the spec, without loading anything
        self.__spec__ = spec
        self.__file__ = spec.origin
        self.__package__ = NAME
        if spec.submodule_search_locations is not None:
            self.__path__ = list(spec.submodule_search_locations)

    def __getattr__(self, attribute: str) -> Any:
        # only reached for names the real module has not lent us yet (see `load`)
        if attribute == "Version":
            return _Version(self.__dict__["_lazy_version"])
        if attribute.startswith("__"):
            raise AttributeError(attribute)  # introspection (copy, pickle) must not load GDCM
        if _at_import_time():
            return _Deferred((attribute,))
        return getattr(load(), attribute)

    @property
    def loaded(self) -> bool:
        return REAL in self.__dict__


class _Deferred:
    """A GDCM attribute named by a module's top-level code while GDCM is not loaded (pydicom's
    legacy handler runs `from gdcm import DataElement` and `hasattr(DataElement, ...)` on
    import): resolved against the real GDCM when it is called or used from a function."""

    def __init__(self, path: tuple[str, ...]) -> None:
        self._path = path

    def _resolve(self) -> Any:
        target: Any = load()
        for name in self._path:
            target = getattr(target, name)
        return target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if _at_import_time():
            return _Deferred((*self._path, name))
        return getattr(self._resolve(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)


def _at_import_time() -> bool:
    """Is the attribute being looked up by a module's top-level code (or by the import system
    on its behalf), rather than by a function that is about to use it?"""
    caller = sys._getframe(2).f_code.co_name
    return caller in ("<module>", "_handle_fromlist")


def install() -> bool:
    """Put the stand-in in place, unless GDCM is loaded already, not installed, or of unknown
    version. True when the stand-in is (now) there."""
    if isinstance(sys.modules.get(NAME), LazyGDCM):
        return True
    spec = None if NAME in sys.modules else importlib.util.find_spec(NAME)
    if spec is None or spec.origin is None:
        return False
    version = _installed_version(Path(spec.origin).parent)
    if version is None:
        return False
    sys.modules[NAME] = LazyGDCM(version, spec)
    return True


def _installed_version(site: Path) -> str | None:
    """The python-gdcm version from its dist-info folder beside the module (importlib.metadata
    would cost 30 ms at every start of the command line)."""
    for info in site.glob(f"{DISTRIBUTION.replace('-', '_')}-*.dist-info"):
        version = info.name[len(DISTRIBUTION) + 1 : -len(".dist-info")]
        if version:
            return version
    return None


def load() -> types.ModuleType:
    """The real gdcm package, loaded now if it was not (thread-safe)."""
    return load_real(NAME, LazyGDCM, _lock)
