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
