"""Settings for the whole suite.

Property tests explore new examples on every developer run; under CI (``CI`` set)
they run derandomized, so that the gate gives the same answer for the same tree
(a failure found locally is kept by hypothesis's example database and fixed).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
