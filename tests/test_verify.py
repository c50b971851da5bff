"""Tests of ``freeprob verify``: the registry, the runner, the report, the CLI and its honesty."""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import freeprob as fp
import freeprob.verify as verify
from freeprob.cli import main
from freeprob.laws import Semicircle
from freeprob.verify import Case, Result, get_case, run_case, run_cases, write_report
from freeprob.verify.case import _import_cases

CHEAP = ["semicircle_moments", "semicircle_cauchy"]


@pytest.fixture
def user_case():
    """Register a throw-away case and remove it afterwards."""
    made = []

    def make(name, distance, tolerance=0.5, run=None):
        case = Case(name=name, title="a user case", how="by hand", metric="abs", tolerance=tolerance,
                    run=run or (lambda n, rng: Result("p", "m", distance)), quick_size=3, full_size=5)
        verify.register(case)
        made.append(name)
        return case

    yield make
    for name in made:
        verify.unregister(name)


def test_list_shows_every_case(capsys):
    assert main(["verify", "--list"]) == 0
    out = capsys.readouterr().out
    for name in verify.case_names():
        assert name in out
    assert {"semicircle_cauchy", "wigner_semicircle"} <= set(verify.case_names())


def test_unknown_case_lists_known_ones(capsys, tmp_path):
    assert main(["verify", "--only", "no_such_case", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no_such_case" in err and "semicircle_cauchy" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "report.md").exists()


def test_unwritable_output_fails_before_any_work(capsys, tmp_path, monkeypatch):
    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("cases ran although the output directory is unusable")

    monkeypatch.setattr(verify, "run_cases", boom)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["verify", "--out", str(blocker / "sub"), "--only", "semicircle_moments"]) == 2
    err = capsys.readouterr().err
    assert "not writable" in err and str(blocker) in err


def test_cli_writes_report_with_tolerances_and_figures(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["verify", "--quick", "--out", str(out), "--only", *CHEAP, "--seed", "3"]) == 0
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for name in CHEAP:
        assert (out / f"{name}.png").stat().st_size > 1000
        assert name in md and name in html
        assert f"({name}.png)" in md and f"src='{name}.png'" in html
    header = "| case | prediction | measurement | distance | tolerance | result | seconds |"
    assert header in md
    assert "1e-10" in md and "1e-09" in md  # tolerances stated next to the measurements
    assert "FAIL" not in md and "seed 3" in md
    out = capsys.readouterr().out
    assert "2/2 passed" in out
    # one line per case, printed as it finished
    assert sum(line.startswith("[") and "pass" in line for line in out.splitlines()) == 2


def test_exit_status_one_when_a_case_fails(tmp_path, user_case):
    user_case("user_failing", distance=1.0, tolerance=0.5)
    user_case("user_passing", distance=0.1, tolerance=0.5)
    assert main(["verify", "--out", str(tmp_path), "--only", "user_failing", "user_passing"]) == 1
    md = (tmp_path / "report.md").read_text()
    assert "| user_failing |" in md and "FAIL" in md
    assert main(["verify", "--out", str(tmp_path), "--only", "user_passing"]) == 0


def test_broken_case_is_reported_not_raised(tmp_path, user_case):
    def crash(n, rng):
        raise RuntimeError("solver diverged at z=1j")

    user_case("user_crashing", distance=0.0, run=crash)
    user_case("user_nan", distance=float("nan"))
    s = run_cases(["user_crashing", "user_nan"], out=tmp_path, progress=False)
    crashed, nan = s.outcomes
    assert not crashed.passed and "solver diverged at z=1j" in crashed.error
    assert not nan.passed and nan.error is None
    write_report(s, tmp_path)
    assert "solver diverged" in (tmp_path / "report.html").read_text()


def test_seeding_is_per_case_and_reproducible():
    case = get_case("wigner_semicircle")
    small = Case(**{**case.__dict__, "quick_size": 200})
    a = run_case(small, seed=1)
    b = run_case(small, seed=1)
    c = run_case(small, seed=2)
    assert a.distance == b.distance != c.distance
    # the stream depends on (seed, name) only, not on the order or company of cases
    assert verify.case_rng(5, "x").random() == verify.case_rng(5, "x").random()
    assert verify.case_rng(5, "x").random() != verify.case_rng(5, "y").random()


def test_parallel_run_matches_serial(user_case):
    user_case("user_rng_a", 0.0, run=lambda n, rng: Result("p", "m", rng.random() * 0.1))
    user_case("user_rng_b", 0.0, run=lambda n, rng: Result("p", "m", rng.random() * 0.1))
    names = ["user_rng_a", "user_rng_b"]
    ser = run_cases(names, seed=7, progress=False)
    par = run_cases(names, seed=7, jobs=2, progress=False)
    assert [o.name for o in par.outcomes] == names
    assert [o.distance for o in par.outcomes] == [o.distance for o in ser.outcomes]


def test_results_stream_as_each_case_finishes(user_case, tmp_path):
    """Each outcome is handed out when its case finishes, not at the end of the run (issue 14)."""
    import time

    seen = []

    def second(n, rng):
        # serial: the first case's outcome was already delivered when the second one runs
        return Result("p", "m", 0.0 if [o.name for o, _, _ in seen] == ["user_stream_a"] else 1.0)

    user_case("user_stream_a", 0.0)
    user_case("user_stream_b", 0.0, run=second)
    s = run_cases(["user_stream_a", "user_stream_b"], on_outcome=lambda o, d, t: seen.append((o, d, t)))
    assert s.passed and [(o.name, d, t) for o, d, t in seen] == [("user_stream_a", 1, 2), ("user_stream_b", 2, 2)]
    # with workers: the slow case finishes only after the parent has received the fast one's outcome
    # (a marker its on_outcome writes); without streaming it would time out and fail, not hang
    marker = tmp_path / "fast-streamed"

    def slow(n, rng):
        t0 = time.monotonic()
        while not marker.exists() and time.monotonic() - t0 < 60:
            time.sleep(0.02)
        return Result("p", "m", 0.0 if marker.exists() else 1.0)

    def record(o, done, total):
        order.append(o.name)
        if o.name == "user_fast":
            marker.write_text("yes")

    order = []
    user_case("user_slow", 0.0, run=slow)
    user_case("user_fast", 0.0)
    par = run_cases(["user_slow", "user_fast"], jobs=2, on_outcome=record)
    assert order == ["user_fast", "user_slow"] and par.passed
    assert [o.name for o in par.outcomes] == ["user_slow", "user_fast"]     # the summary keeps the given order


def test_progress_bars_of_a_case_do_not_interleave_with_the_result_lines(capsys, user_case, monkeypatch):
    """A case calling long Monte-Carlo functions (progress on by default) prints no bars inside verify."""
    import randmat as rm
    import nn_spectra as ns

    monkeypatch.delenv("FREEPROB_PROGRESS", raising=False)

    def noisy(n, rng):
        rm.ensemble(lambda g: g.standard_normal(), 3, rng=rng, desc="bar-of-ensemble")
        ns.layerwise_freeness("tanh", 1.2, 0.05, depth=3, sizes=(8, 16), trials=2, rng=rng)
        return Result("p", "m", 0.0)

    user_case("user_noisy", 0.0, run=noisy)
    s = run_cases(["user_noisy"], seed=0)
    assert s.passed
    captured = capsys.readouterr()
    assert captured.err == ""
    assert [line.split()[1] for line in captured.out.splitlines()] == ["pass"]
    # outside verify the same call draws its bar (on stderr), as documented
    from freeprob.progress import progress_enabled

    assert progress_enabled(True) and os.environ.get("FREEPROB_PROGRESS") is None
    monkeypatch.setenv("FREEPROB_PROGRESS", "0")
    assert not progress_enabled(True)


# ---------------------------------------------------------------- honesty: a wrong theory must fail
def test_honesty_wrong_cauchy_transform_fails(monkeypatch):
    assert run_case(get_case("semicircle_cauchy")).passed
    honest = Semicircle._cauchy
    # a perturbation of one part in a million, far below what a plot would show
    monkeypatch.setattr(Semicircle, "_cauchy", lambda self, z: honest(self, z) * (1 + 1e-6))
    o = run_case(get_case("semicircle_cauchy"))
    assert not o.passed and o.distance > 1e-7


def test_honesty_wrong_limit_law_fails(monkeypatch):
    case = get_case("wigner_semicircle")
    assert run_case(case).passed
    honest = Semicircle._cdf
    wrong = fp.semicircle(var=1.1)  # 10 % too wide: the Wigner limit must reject it
    monkeypatch.setattr(Semicircle, "_cdf", lambda self, x: honest(wrong, x))
    o = run_case(case)
    assert not o.passed and o.distance > 2 * o.tolerance


def test_honesty_wrong_moments_fail(monkeypatch):
    honest = Semicircle._moments
    monkeypatch.setattr(Semicircle, "_moments", lambda self, n: honest(self, n) + np.r_[np.zeros(n - 1), 1e-6])
    assert not run_case(get_case("semicircle_moments")).passed


# ---------------------------------------------------------------- discovery: each package brings its cases
def test_every_package_contributes_its_cases_through_entry_points():
    sources = dict(verify.case_sources())
    assert sources["freeprob"] == "freeprob.verify_cases"
    assert sources["randmat"] == "randmat.verify_cases"
    assert sources["nn_spectra"] == "nn_spectra.verify.cases"
    by_module = {}
    for c in verify.all_cases():
        by_module.setdefault(c.run.__module__.split(".")[0], set()).add(c.name)
    assert {"semicircle_cauchy", "boxplus_density_and_edges", "symbolic_boxplus_density",
            "polynomial_moments"} <= by_module["freeprob"]
    assert {"wigner_semicircle", "haar_moments"} <= by_module["randmat"]
    assert {"double_descent", "jacobian_law_networks"} <= by_module["nn_spectra"]
    assert not any(n.startswith("import_") for n in verify.case_names()), "a case module failed to import"


def test_a_case_file_dropped_into_nn_spectra_cases_is_found():
    import importlib
    import pkgutil

    import nn_spectra.verify.cases as pkg

    registered = {c.run.__module__ for c in verify.all_cases()}
    for m in pkgutil.iter_modules(pkg.__path__):
        if m.name.startswith("_") or m.name in pkg.ALIASES:
            continue
        mod = importlib.import_module(f"{pkg.__name__}.{m.name}")
        if any(isinstance(v, Case) for v in vars(mod).values()) or "register(" in open(mod.__file__).read():
            assert mod.__name__ in registered, m.name


def test_a_case_module_that_breaks_is_a_failing_case(tmp_path, monkeypatch):
    # a renamed API: the module's import raises, and that must show up as FAIL, not as fewer cases
    (tmp_path / "renamed_api_cases.py").write_text("import freeprob as fp\nfp.no_such_law_any_more\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _import_cases("renamed_api_cases")
    try:
        o = run_case(get_case("import_renamed_api_cases"))
        assert not o.passed and "no_such_law_any_more" in o.error
    finally:
        verify.unregister("import_renamed_api_cases")


def test_no_case_is_guarded_by_a_capability_check():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = [*(root / "freeprob" / "verify_cases").glob("*.py"), root / "randmat" / "verify_cases.py",
             *(root / "nn_spectra" / "verify" / "cases").glob("*.py")]
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert "hasattr(" not in text and "except ImportError" not in text, f.name


def test_double_descent_tolerance_is_a_z_score():
    # the counter-example: 0.457 ± 0.027 measured against 0.375 predicted is 3.04 SE and must fail
    case = get_case("double_descent")
    assert case.tolerance_at(case.quick_size) < (0.457 - 0.375) / 0.027
    assert "SE" in case.metric


# ---------------------------------------------------------------- z-scores from standard errors
Z_CASES = ["tanh_criticality", "ntk_finite_width", "jacobian_law_networks", "fim_karakida_networks",
           "conditional_fim_networks", "double_descent", "haar_moments", "hanin_nica_log_norm", "cnn_ntk"]


@pytest.mark.parametrize("name", Z_CASES)
def test_monte_carlo_cases_state_a_z_bound(name):
    # a z bound does not shrink with the size (a rate-in-N tolerance would)
    case = get_case(name)
    assert not callable(case.tolerance) and 3.0 <= case.tolerance <= 4.0
    assert "|z" in case.metric


def test_z_scores_bias_allowance_and_zero_se():
    z = verify.z_scores([1.3, 0.7, 1.05], [0.1, 0.1, 0.1], 1.0, bias=0.1)
    np.testing.assert_allclose(z, [2.0, -2.0, 0.0])
    assert verify.z_scores(1.5, 0.0, 1.0)[()] == np.inf          # no spread, off: fails, not nan
    assert verify.z_scores(1.0, 0.0, 1.0)[()] == 0.0
    with pytest.raises(ValueError, match="bias"):
        verify.z_scores(1.0, 0.1, 1.0, bias=-1)
    with pytest.raises(ValueError, match="replicates"):
        verify.z_test(["a"], np.ones((1, 1)), [1.0])


def test_extrapolation_removes_a_one_over_n_bias_and_keeps_real_errors():
    rng = np.random.default_rng(3)
    noise = lambda n: 0.01 * rng.standard_normal((20, 1)) / n  # noqa: E731  (trace-like O(1/N) noise)
    fine, coarse = 1 + 5.0 / 400 + noise(400), 1 + 5.0 / 200 + noise(200)
    # the plain z-test at N = 400 sees the 5/N bias as hundreds of standard errors
    assert verify.z_test(["m"], fine, [1.0]).worst > 100
    assert verify.z_test_extrapolated(["m"], fine, coarse, [1.0]).worst < 4
    # a limit that is wrong by 0.1 % is not an O(1/N) bias and is still rejected
    assert verify.z_test_extrapolated(["m"], fine, coarse, [1.001]).worst > 4


def test_honesty_conditional_fim_mean_off_by_5_percent_fails(monkeypatch):
    import nn_spectra as ns

    honest = ns.conditional_fim_law

    class Scaled:  # the law of 1.05 H/N: every moment m_k times 1.05^k
        def __init__(self, law):
            self.law = law

        def moments(self, n):
            return np.asarray(self.law.moments(n)) * 1.05 ** np.arange(1, n + 1)

    monkeypatch.setattr(ns, "conditional_fim_law", lambda *a, **k: Scaled(honest(*a, **k)))
    o = run_case(get_case("conditional_fim_networks"))
    assert not o.passed and o.distance > 2 * o.tolerance


# ---------------------------------------------------------------- bad input
def test_case_validation_names_the_parameter():
    ok = dict(name="c", title="t", how="h", metric="m", tolerance=0.1, run=lambda n, r: None, quick_size=1, full_size=2)
    with pytest.raises(ValueError, match="name"):
        Case(**{**ok, "name": "bad name"})
    with pytest.raises(ValueError, match="tolerance"):
        Case(**{**ok, "tolerance": -1.0})
    with pytest.raises(ValueError, match="run"):
        Case(**{**ok, "run": 3})
    with pytest.raises(ValueError, match="already registered"):
        verify.register(get_case("semicircle_cauchy"))
    with pytest.raises(ValueError, match="known cases"):
        get_case("nope")
    with pytest.raises(ValueError, match="mode"):
        run_cases(["semicircle_moments"], mode="medium")
    with pytest.raises(ValueError, match="jobs"):
        run_cases(["semicircle_moments"], jobs=0)


@given(st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3)))
def test_invalid_sizes_rejected(size):
    with pytest.raises(ValueError, match="quick_size"):
        Case(name="c", title="t", how="h", metric="m", tolerance=0.1, run=lambda n, r: None,
             quick_size=size, full_size=2)


@pytest.mark.parametrize("module, message", [("", "not a module name"), ("no_such_module_xyz", "cannot import"),
                                             ("broken_syntax_cases", "syntax error"),
                                             ("raising_cases", "ZeroDivisionError")])
def test_load_errors_are_one_line_exit_2(module, message, tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_syntax_cases.py").write_text("def (:\n")
    (tmp_path / "raising_cases.py").write_text("1 / 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["verify", "--load", module, "--list"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--jobs", "0"], ["--seed", "-1"], ["--quick", "--full"]])
def test_bad_flags_exit_2(argv, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--out", str(tmp_path), *argv])
    assert exc.value.code == 2


@pytest.mark.slow
def test_quick_run_passes_everything(tmp_path):
    """The README's main job, end to end (slow: every case at --quick size)."""
    assert main(["verify", "--out", str(tmp_path), "--jobs", "2"]) == 0
    assert os.path.exists(tmp_path / "report.html")
