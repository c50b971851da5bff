"""Start-up: ``import freeprob`` is light, its public names resolve lazily, a numba compile is announced."""
from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

import freeprob as fp


def test_import_freeprob_loads_no_heavy_dependency():
    code = ("import sys, freeprob; heavy = [m for m in ('sympy', 'scipy.stats', 'numba', 'scipy.integrate') "
            "if m in sys.modules]; print(','.join(heavy) or 'none')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "none"


def test_every_exported_name_resolves_and_all_is_complete():
    for name in fp.__all__:
        assert getattr(fp, name) is not None, name
    # a function keeps the name of the module that defines it
    assert callable(fp.normal) and callable(fp.fuss_catalan) and callable(fp.free_power)
    import freeprob.normal  # noqa: F401  (binding the submodule must not shadow the function)

    assert callable(fp.normal) and fp.normal(0.0, 1.0).var == pytest.approx(1.0)
    assert fp.symbolic.semicircle is not None  # submodules stay reachable as attributes
    with pytest.raises(AttributeError):
        fp.no_such_name


def test_laws_pickle_with_their_reprs():
    for law in (fp.semicircle(2.0, 0.5), fp.bernoulli(0.3), fp.free_poisson(2.0, 0.5), fp.arcsine(-1, 3),
                fp.uniform(0, 2), fp.kesten_mckay(3), fp.normal(1.0, 2.0), fp.atoms([0, 1, 5], [0.2, 0.3, 0.5]),
                fp.semicircle().scale(2.0).shift(1.0)):
        back = pickle.loads(pickle.dumps(law))
        assert repr(back) == repr(law)
        assert back.cdf(0.7) == law.cdf(0.7)
    assert repr(fp.bernoulli(0.3)) == "bernoulli(p=0.3)"


def test_a_numba_compile_is_announced_once(capsys):
    from numba import njit

    from freeprob import jit_notice

    jit_notice.announce_compilation(load_numba=True)
    jit_notice._state["announced"] = False

    def kernel(x):
        return x + 1

    kernel.__module__ = "freeprob._compile_notice_test"
    f = njit(kernel)  # not cached: compiling it is a real compile event
    f(1)
    f(2.5)  # a second signature compiles again, silently
    err = capsys.readouterr().err
    assert err.count("compiling numba kernels") == 1 and "freeprob._compile_notice_test" in err


def test_closures_over_the_package_pickle_for_worker_processes():
    cloudpickle = pytest.importorskip("cloudpickle")

    f = lambda: fp.semicircle(2.0).var  # noqa: E731  (joblib/loky ship closures like this one)
    assert pickle.loads(cloudpickle.dumps(f))() == 2.0
    assert pickle.loads(pickle.dumps(fp.semicircle)) is fp.semicircle
