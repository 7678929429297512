"""The preflight's words: one line per app and environment, for a terminal or a log."""

from __future__ import annotations

from collections.abc import Sequence

from ..domain.preflight import Check


def check_line(check: Check) -> str:
    label = f"{check.app} ({check.environment})"
    engine = check.engine or "engine unknown"
    if check.problems:
        return f"FAIL  {label}: " + "; ".join([*check.problems, *check.warnings])
    if check.warnings:
        return f"warn  {label}: {engine}; " + "; ".join(check.warnings)
    return f"ok    {label}: {engine}"


def summary(checks: Sequence[Check], slack_checked: bool) -> str:
    ready = sum(1 for c in checks if c.usable)
    text = f"{ready} of {len(checks)} app environment(s) can be deployed"
    return text + ("" if slack_checked else " (Slack not checked: set SLACK_BOT_TOKEN to check channels and groups)")
