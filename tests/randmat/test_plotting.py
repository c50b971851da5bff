"""plot_spectrum: histogram, density, atoms as stems, KS in the legend."""
import numpy as np
import pytest

import freeprob as fp
import randmat as rm

pytest.importorskip("matplotlib")


def test_plot_with_density():
    eigs = rm.eigenvalues(rm.goe(300, rng=0))
    ax = rm.plot_spectrum(eigs, fp.semicircle(), title="GOE")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    ks = rm.ks_distance(eigs, fp.semicircle())
    assert any(f"KS distance = {ks:.3g}" == t for t in texts)
    assert ax.get_title() == "GOE"
    # the density curve is the law's pdf
    line = [ln for ln in ax.get_lines() if ln.get_label().endswith("density")][0]
    x, y = line.get_data()
    assert np.allclose(y, fp.semicircle().pdf(x))


def test_plot_with_atoms_and_existing_axes():
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    w = rm.wishart(200, 100, rng=1)  # atom of mass 1/2 at 0
    out = rm.plot_spectrum(w, fp.marchenko_pastur(ratio=2.0), ax=ax, bins=40)
    assert out is ax
    stems = [c for c in ax.collections if c.__class__.__name__ == "LineCollection"]
    assert stems, "atoms must be drawn as stems"
    heights = [seg[1][1] for seg in stems[0].get_segments()]
    edges = np.histogram_bin_edges(rm.eigenvalues(w), bins=40)
    assert np.isclose(heights[0], 0.5 / np.median(np.diff(edges)))


def test_plot_without_law():
    ax = rm.plot_spectrum(np.array([0.0, 1.0, 2.0]))
    assert len(ax.patches) > 0


def test_log_scale_for_spectra_spanning_decades():
    import freeprob as fp
    import randmat as rm

    eigs = rm.eigenvalues(rm.wishart(300, 150, rng=1))  # ratio 2: half the eigenvalues are (numerically) 0
    law = fp.marchenko_pastur(2.0)
    ax = rm.plot_spectrum(eigs, law, xscale="log", yscale="log")
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    # the KS distance is that of the whole spectrum, whatever the axis
    assert f"KS distance = {rm.ks_distance(eigs, law):.3g}" in texts
    edges = [p.get_x() for p in ax.patches]
    ratios = np.diff(np.log(edges))
    assert np.allclose(ratios, ratios[0], rtol=1e-6)  # geometric bins
    with pytest.raises(ValueError, match="xscale"):
        rm.plot_spectrum(eigs, law, xscale="logit")
