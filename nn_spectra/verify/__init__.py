"""Former home of ``freeprob verify``, kept as an alias of :mod:`freeprob.verify`.

The runner, report and registry now belong to the ``freeprob`` CLI (:mod:`freeprob.verify`);
:mod:`nn_spectra.verify.cases` holds the network cases of this package, found through the
``freeprob.verify_cases`` entry point.

>>> from nn_spectra.verify import get_case
>>> get_case("double_descent").topic
'deep networks'
"""
from freeprob.verify import *  # noqa: F401,F403
from freeprob.verify import __all__  # noqa: F401
