"""A module object standing in `sys.modules` for a costly one until it is really used
(`lazy_gdcm`, `lazy_download`): `load_real` swaps the real module in."""

from __future__ import annotations

import importlib
import sys
import threading
import types

REAL = "_lazy_real"  # where a stand-in keeps the real module once loaded


def load_real(
    name: str, stand_in_type: type[types.ModuleType], lock: threading.Lock
) -> types.ModuleType:
    """The real module `name`, imported now if a `stand_in_type` still holds its place
    (thread-safe). The stand-in then lends it all the real module's attributes, so modules
    that imported the stand-in go on working with the real one."""
    with lock:
        current = sys.modules.get(name)
        if not isinstance(current, stand_in_type):
            return current if current is not None else importlib.import_module(name)
        real = current.__dict__.get(REAL)
        if real is not None:
            return real  # type: ignore[no-any-return]
        del sys.modules[name]
        try:
            real = importlib.import_module(name)
        except BaseException:
            sys.modules[name] = current
            raise
        current.__dict__.update(real.__dict__)
        current.__dict__[REAL] = real
        return real
