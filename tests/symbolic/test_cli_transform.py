"""`freeprob transform` and the symbolic verify cases."""
import subprocess
import sys

import numpy as np
import pytest

from freeprob.cli import main


def _run(capsys, *argv):
    rc = main(["transform", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_default_is_the_reference_cubic(capsys):
    rc, out, _ = _run(capsys)
    assert rc == 0 and out.strip() == "G**3 - G**2*z - G**2 + G*z - 1 = 0"


@pytest.mark.parametrize("expr, kind, extra, expected", [
    ("semicircle(var=2)", "cauchy", [], "G(z) = z/4 - sqrt(z - 2*sqrt(2))*sqrt(z + 2*sqrt(2))/4"),
    ("semicircle(var=2, mean=1)", "r", [], "R(w) = 2*w + 1"),
    ("marchenko_pastur(ratio=0.5)", "s", [], "S(z) = 2/(z + 2)"),
    ("boxplus(semicircle(), free_poisson())", "moments", ["-n", "6"], "moments:         1, 3, 8, 26, 87, 308"),
    ("boxtimes(free_poisson(), free_poisson())", "polynomial", [], "G**3*z**2 - G*z + 1 = 0"),
    ("boxplus(atoms([-1, 1]), atoms([-1, 1]))", "polynomial", [], "G**2*z**2 - 4*G**2 - 1 = 0"),
    ("boxplus(semicircle(), semicircle())", "subordination", [], "omega_1 + omega_2 = z + 1/G"),
    ("semicircle().scale(2)", "moments", ["-n", "2"], "moments:         0, 4"),
    ("bernoulli(0.5)", "polynomial", ["--latex"], "2 G z^{2} - 2 G z - 2 z + 1 = 0"),
])
def test_outputs(capsys, expr, kind, extra, expected):
    rc, out, err = _run(capsys, expr, "--kind", kind, *extra)
    assert rc == 0, err
    assert expected in out.splitlines()


@pytest.mark.parametrize("argv, msg", [
    (["uniform(0, 1)"], "not an algebraic law"),
    (["boxplus(semicircle(), normal())"], "not an algebraic law"),
    (["semicircle(var=-1)"], "var must lie in (0, inf)"),
    (["kesten_mckay(1)"], "d must lie in [2, inf)"),
    (["__import__('os')"], "not allowed"),
    (["boxplus(semicircle(), "], "syntax error"),
    (["2.0"], "must describe a law"),
    (["semicircle()", "--kind", "subordination"], "boxplus(A, B)"),
    (["boxtimes(semicircle(), free_poisson())"], "nonzero mean"),
    (["boxplus(semicircle(), free_poisson())", "--kind", "cauchy"], "degree 3 > max_degree=2"),
    (["semicircle()", "--kind", "moments", "-n", "0"], "--n must lie in"),
])
def test_errors_are_one_line_exit_2(capsys, argv, msg):
    rc, out, err = _run(capsys, *argv)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and msg in lines[0]
    assert lines[0].startswith("freeprob transform: error:")


def test_console_script_subprocess():
    proc = subprocess.run([sys.executable, "-m", "freeprob.cli", "transform", "semicircle()", "--kind", "r"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "R(w) = w" in proc.stdout


def test_verify_cases_pass_at_quick_size():
    pytest.importorskip("matplotlib")
    from nn_spectra.verify.case import get_case
    from nn_spectra.verify.cases import symbolic  # noqa: F401  (registers)

    for name in ("symbolic_boxplus_density", "symbolic_boxtimes_density"):
        case = get_case(name)
        res = case.run(case.quick_size, np.random.default_rng(7))
        assert np.isfinite(res.distance) and res.distance <= case.tolerance_at(case.quick_size), (name, res)
        assert res.figure is not None
