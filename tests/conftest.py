"""Settings for the whole suite.

Property tests explore new examples on every developer run; under CI (``CI`` set)
they run derandomized, so that the gate gives the same answer for the same tree
(a failure found locally is kept by hypothesis's example database and fixed).

Both profiles leave time out of the verdict: a busy machine makes drawing and
running examples slow, which says nothing about the code under test, so neither
a deadline nor the too-slow / data-too-large health checks fail a test.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "logway",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", parent=settings.get_profile("logway"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "logway")
