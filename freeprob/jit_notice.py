"""Say on the terminal when numba compiles a kernel of this toolkit (once per process).

The kernels are compiled lazily, on first call, and cached on disk (``cache=True``), so a compile
happens on the first use after an install or an upgrade and takes seconds to a minute; without a
word the program looks hung.  numba reports compiles (not cache loads) through its event API.
"""
from __future__ import annotations

import sys

__all__ = ["announce_compilation"]

_PACKAGES = ("freeprob", "randmat", "nn_spectra")
_state = {"installed": False, "announced": False}


def _listener_class():
    from numba.core import event

    class _Notice(event.Listener):
        def on_start(self, ev):
            if _state["announced"]:
                return
            disp = (ev.data or {}).get("dispatcher")
            module = getattr(getattr(disp, "py_func", None), "__module__", "") or ""
            if module.split(".")[0] in _PACKAGES:
                _state["announced"] = True
                print(f"freeprob: compiling numba kernels on first use ({module}); they are cached, "
                      "later runs start fast", file=sys.stderr, flush=True)

        def on_end(self, ev):
            pass

    return _Notice


def announce_compilation(load_numba: bool = False) -> None:
    """Install the compile notice; without ``load_numba`` only when numba is already loaded."""
    if _state["installed"] or ("numba" not in sys.modules and not load_numba):
        return
    from numba.core import event

    event.register("numba:compile", _listener_class()())  # for the whole process
    _state["installed"] = True
