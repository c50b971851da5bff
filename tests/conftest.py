import os

from hypothesis import HealthCheck, settings

# The default profile keeps the suite inside its time budget on 2 cores; `HYPOTHESIS_PROFILE=thorough`
# runs many more examples.
settings.register_profile(
    "default", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
