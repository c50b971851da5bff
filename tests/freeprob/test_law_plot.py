"""Law.plot: the legend names the law and each atom (drawn as stems), and sits off the data."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import freeprob as fp  # noqa: E402


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _stems(ax):
    """(x, height) of every vertical segment drawn by vlines."""
    out = []
    for coll in ax.collections:
        for seg in coll.get_segments():
            (x0, y0), (x1, y1) = seg
            if x0 == x1:
                out.append((x0, max(y0, y1)))
    return sorted(out)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_mixed_law_density_and_atom_entries():
    # free Poisson of rate 1/2: an atom of mass 1 - rate = 1/2 at 0 and a density (independent truth)
    law = fp.free_poisson(rate=0.5)
    ax = law.plot()
    assert _legend(ax) == [repr(law), "atom at 0 (mass 0.5)"]
    assert _stems(ax) == [(0.0, pytest.approx(0.5))]


def test_custom_label_and_purely_atomic_law():
    law = fp.atoms([-1.0, 2.0], [0.25, 0.75])
    ax = law.plot(label="my law")
    # no density line for a law without absolutely continuous part: the label titles the legend
    assert _legend(ax) == ["atom at -1 (mass 0.25)", "atom at 2 (mass 0.75)"]
    assert ax.get_legend().get_title().get_text() == "my law"
    assert _stems(ax) == [(-1.0, 0.25), (2.0, 0.75)]
    ax = fp.semicircle().plot(label="Wigner")
    assert _legend(ax) == ["Wigner"]


def test_many_atoms_share_one_entry():
    law = fp.atoms(np.arange(10.0), np.full(10, 0.1))
    assert _legend(law.plot()) == ["10 atoms (stem height = mass)"]


def test_legend_is_off_the_data():
    ax = fp.free_poisson(rate=0.5).plot()
    fig = ax.figure
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    leg, box = ax.get_legend().get_window_extent(r), ax.get_window_extent(r)
    assert leg.x0 >= box.x1          # entirely to the right of the axes
