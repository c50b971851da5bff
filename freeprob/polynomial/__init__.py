"""Spectra of self-adjoint polynomials in free random variables.

Linearization (:mod:`.linearization`), the operator-valued semicircle fixed point
(:mod:`.semicircular_ov`), matrix-valued subordination (:mod:`.ov_subordination`), exact moments
(:mod:`.nc_moments`) and the resulting law (:mod:`.polynomial_law`).
"""
from .linearization import Pencil, linearize
from .polynomial_law import ConvergenceError, ConvergenceWarning, PolynomialLaw, polynomial_law
from .variables import free_variables

__all__ = ["free_variables", "polynomial_law", "PolynomialLaw", "Pencil", "linearize",
           "ConvergenceError", "ConvergenceWarning"]
