"""Built-in verification cases, one module per topic.

A topic module registers a case only when the capability it checks exists in the installed
toolkit (``hasattr`` on the public API), so the registry never contains a case for missing code.
"""
from . import laws, random_matrices  # noqa: F401  (import registers)
