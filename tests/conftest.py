"""Shared test set-up: hypothesis profiles.

``HYPOTHESIS_PROFILE=ci`` (what ``.ci/run`` sets) runs a bounded, derandomized number of
examples with no deadline, so CI is reproducible and its time predictable on shared
cores; ``dev`` (the default) explores more, with fresh randomness on every run.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=100,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=300,
    deadline=None,
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
