"""Spectra of self-adjoint polynomials in free random variables.

Linearization (:mod:`.linearization`), the operator-valued fixed points with exact Jacobians
(:mod:`.pencil_systems`: operator-valued semicircle, matrix-valued subordination), exact atoms by
the rank of the linearization (:mod:`.atoms`), exact moments (:mod:`.nc_moments`) and the
resulting law on the :class:`~freeprob.SolvedLaw` engine (:mod:`.polynomial_law`).
"""
from .linearization import Pencil, linearize
from .polynomial_law import ConvergenceError, ConvergenceWarning, PolynomialLaw, polynomial_law
from .variables import free_variables

__all__ = ["free_variables", "polynomial_law", "PolynomialLaw", "Pencil", "linearize",
           "ConvergenceError", "ConvergenceWarning"]
