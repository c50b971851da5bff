"""The ensemble runner: per-trial seeds from one root, identical numbers on every backend (serial,
loky processes, threads, a dask.distributed LocalCluster), progress bar, bad input."""
import threading

import joblib
import numpy as np
import pytest

import randmat as rm


def _top_eigenvalue(rng):
    return float(rm.eigenvalues(rm.goe(30, rng))[-1])


def test_serial_reproducible_and_trial_order():
    r1 = rm.ensemble(_top_eigenvalue, 6, rng=11, progress=False)
    r2 = rm.ensemble(_top_eigenvalue, 6, rng=11, progress=False)
    assert r1 == r2 and len(set(r1)) == 6
    # trial k uses child k of SeedSequence(11): reproduce trial 3 by hand
    child = np.random.SeedSequence(11).spawn(6)[3]
    assert r1[3] == _top_eigenvalue(np.random.default_rng(child))


def test_seeds_independent_of_trial_count_prefix():
    # spawning is deterministic: the first trials of a longer run are the same trials
    assert rm.ensemble(_top_eigenvalue, 3, rng=5, progress=False) == rm.ensemble(
        _top_eigenvalue, 5, rng=5, progress=False)[:3]


def test_processes_and_threads_give_serial_numbers():
    serial = rm.ensemble(_top_eigenvalue, 5, rng=2, progress=False)
    assert rm.ensemble(_top_eigenvalue, 5, rng=2, n_jobs=2, progress=False) == serial
    with joblib.parallel_backend("threading", n_jobs=2):
        assert rm.ensemble(_top_eigenvalue, 5, rng=2, progress=False) == serial


def test_lambda_closure_pickled():
    n = 7
    out = rm.ensemble(lambda g: g.standard_normal(n).sum(), 3, rng=0, n_jobs=2, progress=False)
    assert len(out) == 3


def test_dask_local_cluster_same_numbers():
    distributed = pytest.importorskip("dask.distributed")
    serial = rm.ensemble(_top_eigenvalue, 6, rng=9, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with joblib.parallel_backend("dask"):
            on_dask = rm.ensemble(_top_eigenvalue, 6, rng=9, progress=False, n_jobs=-1)
            names = rm.ensemble(lambda g: threading.current_thread().name, 4, rng=9, progress=False, n_jobs=-1)
        # the trials really ran on the cluster's workers, not in the calling thread
        assert all(name != threading.current_thread().name for name in names)
        assert client.run(lambda: 1)  # the cluster is alive and has workers
    assert on_dask == serial


def test_generator_and_seedsequence_roots():
    g1, g2 = np.random.default_rng(4), np.random.default_rng(4)
    assert rm.ensemble(_top_eigenvalue, 2, rng=g1, progress=False) == rm.ensemble(
        _top_eigenvalue, 2, rng=g2, progress=False)
    # a generator advances, so a second call gives new trials
    assert rm.ensemble(_top_eigenvalue, 2, rng=g1, progress=False) != rm.ensemble(
        _top_eigenvalue, 2, rng=np.random.default_rng(4), progress=False)
    ss = np.random.SeedSequence(3)
    a = rm.ensemble(_top_eigenvalue, 2, rng=ss, progress=False)
    b = rm.ensemble(_top_eigenvalue, 2, rng=ss, progress=False)
    assert a != b  # spawning from the same SeedSequence continues its child counter


def test_progress_bar_on_stderr(capsys):
    rm.ensemble(_top_eigenvalue, 3, rng=1, progress=True, desc="goe")
    err = capsys.readouterr().err
    # tqdm redraws at most every 0.1 s and clears the bar at the end (leave=False); the bar with
    # its total was shown
    assert "goe" in err and "/3" in err
    rm.ensemble(_top_eigenvalue, 3, rng=1, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kwargs,match", [
    (dict(trials=0), "trials must be an integer >= 1"),
    (dict(trials=2.5), "trials must be an integer >= 1"),
    (dict(trials=2, n_jobs=0), "n_jobs"),
    (dict(trials=2, rng="x"), "rng"),
    (dict(trials=2, rng=-4), "rng"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rm.ensemble(_top_eigenvalue, progress=False, **kwargs)


def test_not_callable():
    with pytest.raises(ValueError, match="sample_fn must be callable"):
        rm.ensemble(3, 2)
