"""randmat's verification cases (``randmat.verify_cases``) run and pass at their quick size."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from freeprob.verify import all_cases  # noqa: E402

import randmat.verify_cases as random_matrices  # noqa: E402  (registers the cases)

CASES = [c for c in all_cases() if c.run.__module__ == random_matrices.__name__]


def test_topic_has_the_new_cases():
    names = {c.name for c in CASES}
    assert {"haar_moments", "haar_unitary_angles", "orthogonal_arcsine", "asymptotic_freeness_sweep",
            "wigner_semicircle", "marchenko_pastur", "semicircle_free_sum", "bernoulli_free_sum",
            "mp_free_product", "permutation_kesten_mckay"} <= names


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_passes_at_quick_size(case):
    result = case.run(case.quick_size, np.random.default_rng(20261123))
    assert result.figure is not None
    assert result.distance <= case.tolerance_at(case.quick_size), (case.name, result.measurement)


def test_semicircle_power_cumulants_are_exact():
    """The limit of the non-free pair in asymptotic_freeness_sweep, from connected pairings."""
    k = random_matrices._semicircle_power_cumulant
    # one argument: the moments of s (Catalan numbers); κ₁(s²) = m₂ = 1, κ₁(s⁴) = 2, κ₁(s⁶) = 5
    assert [k((2,)), k((4,)), k((6,))] == [1, 2, 5]
    # the semicircle's own cumulants: κ₂ = 1, κ₃ = κ₄ = 0
    assert [k((1, 1)), k((1, 1, 1)), k((1, 1, 1, 1))] == [1, 0, 0]
    # κ₂(s², s²) = m₄ − m₂² = 1; κ₂(s, s²) = m₃ − m₁m₂ = 0; κ₃(s, s, s²) = m₄ − m₂m₂ − 0 = 1
    assert [k((2, 2)), k((1, 2)), k((1, 1, 2))] == [1, 0, 1]
    assert random_matrices._NON_FREE_LIMIT == 2
