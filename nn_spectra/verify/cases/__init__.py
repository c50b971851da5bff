"""The verification cases of :mod:`nn_spectra`: deep networks against finite random networks.

``freeprob verify`` finds this package through the ``freeprob.verify_cases`` entry point and
imports every module in it -- the :data:`TOPICS` first, in that order, then any other module
alphabetically -- so a new case file dropped here is picked up without further registration.
A module that fails to import is reported as a failing case. The modules in :data:`ALIASES`
only re-export cases that moved to the package whose theory they check.
"""

TOPICS = ("mean_field", "deep_spectra", "deep_training")
ALIASES = ("laws", "free_convolutions", "symbolic", "polynomial", "random_matrices")
