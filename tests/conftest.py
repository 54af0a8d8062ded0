"""Suite-wide settings: hypothesis runs without per-example deadlines or speed health checks, so
a test that generates slowly on a loaded CI machine cannot flake; what it checks is unchanged."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "supervisord-lite",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("supervisord-lite")
