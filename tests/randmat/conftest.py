"""One BLAS thread for the randmat tests.

On the shared 2-core test machine, OpenBLAS with two threads that find no idle core slows dense
linear algebra of size 800 from 0.2 s to 5-10 s (spinning threads); one thread is faster here
and leaves the other core to other jobs. Results do not depend on it.
"""
import pytest

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn (test extra)
    threadpool_limits = None


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    if threadpool_limits is None:
        yield
        return
    with threadpool_limits(1):
        yield
