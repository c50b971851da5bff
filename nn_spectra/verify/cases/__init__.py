"""Built-in verification cases, one module per topic.

A topic module registers a case only when the capability it checks exists in the installed
toolkit (``hasattr`` on the public API), so the registry never contains a case for missing code.
Topics are imported in report order; a topic whose module is absent is skipped.
"""
import importlib

TOPICS = ("laws", "free_convolutions", "symbolic", "polynomial", "random_matrices", "mean_field", "deep_spectra",
          "deep_training")

for _topic in TOPICS:
    try:
        importlib.import_module(f"{__name__}.{_topic}")
    except ModuleNotFoundError as _exc:  # only "this topic module does not exist" is skipped
        if _exc.name != f"{__name__}.{_topic}":
            raise
