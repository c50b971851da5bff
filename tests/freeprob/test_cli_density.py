import subprocess
import sys

import numpy as np
import pytest

from freeprob.cli import main


def test_default_example(capsys, tmp_path):
    csv = tmp_path / "d.csv"
    assert main(["density", "--grid", "-1:4:51", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "support" in out and "atoms" in out
    data = np.loadtxt(csv, delimiter=",", skiprows=1)
    assert data.shape == (51, 2) and np.all(data[:, 1] >= 0)


def test_says_when_only_part_of_the_grid_is_printed(capsys, tmp_path):
    assert main(["density", "semicircle()", "--grid", "-2:2:401"]) == 0
    out = capsys.readouterr().out
    assert "(showing 41 of the 401 grid points, every 10th; --csv FILE writes all of them)" in out
    rows = [ln for ln in out.splitlines() if ln.strip() and ln.split()[0].lstrip("-").replace(".", "").isdigit()]
    assert len(rows) == 41
    csv = tmp_path / "all.csv"
    assert main(["density", "semicircle()", "--grid", "-2:2:401", "--csv", str(csv)]) == 0
    assert "the CSV has all of them" in capsys.readouterr().out
    assert np.loadtxt(csv, delimiter=",", skiprows=1).shape == (401, 2)
    assert main(["density", "semicircle()", "--grid", "-2:2:40"]) == 0     # all printed: no notice
    assert "showing" not in capsys.readouterr().out


def test_atoms_printed(capsys):
    assert main(["density", "boxtimes(bernoulli(0.7), bernoulli(0.6))", "--grid", "0:1:11"]) == 0
    out = capsys.readouterr().out
    assert "0 (mass 0.4" in out and "1 (mass 0.3" in out


@pytest.mark.parametrize(
    "expr, msg",
    [
        ("__import__('os').system('true')", "not allowed"),
        ("semicircle().__class__", "not allowed"),
        ("lambda: 1", "not allowed"),
        ("unknown_law(1)", "unknown function"),
        ("semicircle(var=-1)", "var must lie in"),
        ("boxplus(semicircle(), ", "syntax error"),
        ("3.0", "must describe a law"),
    ],
)
def test_rejected(expr, msg, capsys):
    assert main(["density", expr]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]


def test_subprocess_exit_status():
    r = subprocess.run([sys.executable, "-m", "freeprob.cli", "density", "open('x')"], capture_output=True, text=True)
    assert r.returncode == 2 and "error" in r.stderr
