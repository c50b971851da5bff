import os

from hypothesis import HealthCheck, settings

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
