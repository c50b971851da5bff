"""The verification cases of :mod:`freeprob`'s own theory, one module per topic.

``freeprob verify`` finds them through the ``freeprob.verify_cases`` entry point (as it finds
those of :mod:`randmat` and :mod:`nn_spectra`) and imports the modules in :data:`TOPICS` order;
a module that fails to import becomes a failing case, never a silently missing one.
"""

TOPICS = ("laws", "free_convolutions", "symbolic", "polynomial")
