"""A deploy record to start unit tests from."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.models import Deployment, Image

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def record(**changes: object) -> Deployment:
    base = Deployment(
        id="r-1",
        app="web1",
        tag="v1.2.3",
        requester="U0ALICE",
        team_id="T0",
        channel="C0",
        created_at=NOW,
        updated_at=NOW,
        image=Image(repository_uri="r/web1", tag="v1.2.3", digest="sha256:" + "a" * 64),
    )
    return base.model_copy(update=changes)
