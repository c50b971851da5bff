import os

# pytest-xdist runs one worker per core; BLAS threads on top of that oversubscribe the cores (a
# 100x100 QR measured 0.43 s with OpenBLAS threads under load against 4 ms with one).  The variables
# act if numpy is not loaded yet; threadpoolctl limits the libraries already loaded (numpy's and
# scipy's OpenBLAS).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
    import numpy  # noqa: E402,F401
    import scipy.linalg  # noqa: E402,F401
    from threadpoolctl import threadpool_limits

    _BLAS_LIMIT = threadpool_limits(1)

from hypothesis import HealthCheck, settings  # noqa: E402

# The default profile keeps the suite inside its time budget on 2 cores and is derandomized (the
# examples are a fixed function of each test), so that CI is reproducible; `HYPOTHESIS_PROFILE=thorough`
# explores with fresh random examples and many more of them.
settings.register_profile(
    "default", max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
