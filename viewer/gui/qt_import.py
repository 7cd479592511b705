"""Import PySide6 without it keeping the source text of every Python module in memory.

PySide6 (6.x, PYSIDE-2029) hooks `__import__` to learn whether each module uses PySide6, for its
`__feature__` switches: `shibokensupport.feature._mod_uses_pyside` calls `inspect.getsource` on
every module imported after PySide6, and on every module imported before it when QtCore loads.
`inspect.getsource` goes through `linecache`, which keeps every line of every file read, for the
life of the process: measured here, 430 modules and 18 MiB of source text in the GUI process
after `import viewer.gui.app`, 23 MiB of its PSS. Freeing the cache afterwards gives little back
(the small strings are spread over the allocator's arenas among live objects); not filling it
does. The check here asks the same question (does the source contain "PySide6"?) by reading the
file once, without caching it.

Call `import_qt()` before the first import of PySide6 in a process.
"""

from __future__ import annotations

import linecache
import logging
import sys
from types import ModuleType

LOGGER = logging.getLogger(__name__)


def import_qt() -> None:
    """Import PySide6.QtCore with PySide6's module check made cache-free (idempotent)."""
    import PySide6  # noqa: F401 - loads shibokensupport.feature, before QtCore checks modules

    feature = sys.modules.get("shibokensupport.feature")
    check = getattr(feature, "_mod_uses_pyside", None)
    if feature is not None and callable(check) and not getattr(check, "cache_free", False):
        original = check

        def mod_uses_pyside(module: ModuleType) -> bool:
            path = getattr(module, "__file__", None)
            if not isinstance(path, str) or not path.endswith(".py"):
                return bool(original(module))  # built-in, extension or zipped: rare, cheap
            try:
                with open(path, "rb") as source:
                    return b"PySide6" in source.read()
            except OSError:
                return False  # as PySide6 does for a module without a readable source

        mod_uses_pyside.cache_free = True  # type: ignore[attr-defined]
        feature._mod_uses_pyside = mod_uses_pyside  # type: ignore[attr-defined]
    elif feature is None or not callable(check):
        LOGGER.debug("PySide6 has no module check to replace: nothing to do")
    import PySide6.QtCore  # noqa: F401 - checks the modules imported so far
    linecache.clearcache()  # what was read before this was called
