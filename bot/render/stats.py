"""`/deploy stats`: the four delivery figures of an app, each with the period and the count behind it."""

from __future__ import annotations

from datetime import timedelta

from ..domain.catalog import AppConfig
from ..domain.delivery import Figures, quantile


def _span(value: timedelta | None) -> str:
    if value is None:
        return "—"
    minutes = value.total_seconds() / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def stats_text(app: AppConfig, found: Figures) -> str:
    period = f"the last {found.days} day{'s' if found.days != 1 else ''}"
    if not found.deployments:
        return f"*Delivery of `{app.label}`, {period}*\nNo deployment reached the engine in that time."
    rate = found.failure_rate or 0.0
    lead = (
        f"median {_span(quantile(found.lead_times, 0.5))}, p90 {_span(quantile(found.lead_times, 0.9))} "
        f"(of {len(found.lead_times)})"
        if found.lead_times
        else "— (no deployment with a known request time went live)"
    )
    restore = (
        f"median {_span(quantile(found.restores, 0.5))} (of {len(found.restores)})"
        if found.restores
        else "— (nothing failed and was restored since)"
    )
    return "\n".join(
        [
            f"*Delivery of `{app.label}`, {period}*",
            f"• *Deployment frequency*: {found.per_day:.2f} a day ({found.succeeded} live in {found.days} days)",
            f"• *Lead time* from request (or commit) to live: {lead}",
            f"• *Change failure rate*: {rate:.0%} "
            f"({found.failed} of {found.deployments} failed, stopped or rolled back)",
            f"• *Time to restore* from a failed change to the next live one: {restore}",
        ]
    )
