"""Severity levels of findings, most severe first (one definition for every tool family)."""

from __future__ import annotations

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
"""Sort key of a finding's severity: critical, then warning, then info."""
