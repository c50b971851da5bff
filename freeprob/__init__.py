"""freeprob: free probability, numerically and symbolically.

Laws (immutable, scipy.stats-like), their Cauchy/R/S transforms, and free additive and
multiplicative convolutions by subordination.
"""
from .law import Law
from .laws import (
    Arcsine,
    Atoms,
    FreePoisson,
    Semicircle,
    arcsine,
    atoms,
    bernoulli,
    free_poisson,
    marchenko_pastur,
    semicircle,
)
from .laws import KestenMcKay, Uniform, kesten_mckay, uniform
from .normal import Normal, normal
from .fuss_catalan import FussCatalan, fuss_catalan
from .empirical import Empirical, empirical
from .pushforward import PushforwardLaw, pushforward
from .convolution import SubordinationError, boxplus, boxtimes
from .free_power import FreePower, free_power
from .polynomial import free_variables, polynomial_law

__version__ = "0.1.0"
