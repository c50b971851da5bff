"""The engine-level cdf table (freeprob.density_table.DensityTableCdf) against closed forms.

Independent truths: free powers of closed-form laws are closed-form laws (semicircle(1)^{⊞2} is
semicircle(2), free_poisson(1/2)^{⊞3/2} is free_poisson(3/4), with an atom 1/4 at 0 away from its
density) whose cdf is evaluated without any solver.  The table replaces ~300 solves per point of the
contour cdf by adaptive Gauss–Legendre panels; the stated error is the panel rule's,
1e-14 + 1e-13 relative per panel (module docstring): the cdf is held to 1e-11, the mass to 1e-12.
"""
from __future__ import annotations

import numpy as np
import pytest

import freeprob as fp
from freeprob.density_table import DensityTableCdf
from freeprob.free_power import FreePower


class _TabledPower(DensityTableCdf, FreePower):
    pass


@pytest.mark.parametrize("base,t,truth", [
    (fp.semicircle(), 2.0, fp.semicircle(var=2.0)),
    (fp.free_poisson(0.5), 1.5, fp.free_poisson(0.75)),
])
def test_table_cdf_is_the_closed_form(base, t, truth):
    law = _TabledPower(base, t)
    (lo, hi), = law.intervals
    # both ends (square-root), the bulk, and outside
    x = np.concatenate([[lo - 1.0, lo, hi, hi + 1.0], lo + (hi - lo) * np.array([1e-9, 1e-5, 0.01, 0.3, 0.5, 0.77,
                                                                                 0.99, 1 - 1e-5, 1 - 1e-9])])
    if len(truth.atoms[0]):
        x = np.concatenate([x, truth.atoms[0], truth.atoms[0] - 1e-12])
    assert np.allclose(law.cdf(x), truth.cdf(x), rtol=0, atol=1e-11), np.max(np.abs(law.cdf(x) - truth.cdf(x)))
    assert abs(law.total_mass - 1.0) <= 1e-12


def test_table_agrees_with_the_contour_cdf():
    # the two routes of the same law: G on vertical rays (engine) and the axis density (table)
    law = _TabledPower(fp.boxplus(fp.semicircle(), fp.free_poisson(0.5)), 1.7)
    lo, hi = law.support
    x = lo + (hi - lo) * np.array([0.001, 0.2, 0.5, 0.8, 0.999])
    contour = FreePower._cdf(law, x)
    assert np.allclose(law.cdf(x), contour, rtol=0, atol=1e-10)

