"""Safe output: escaped text, cut to Block Kit's limits; secrets never in logs."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr

import structlog

from bot.domain.models import State
from bot.render.root import root_blocks
from bot.render.text import esc
from bot.runtime.logging import configure
from bot.slack.chat import checked
from sandbox.slack.workspace import validate_blocks

from .factories import NOW, record


def test_escape_stops_injection() -> None:
    assert esc("<!channel> & <@U1|x>") == "&lt;!channel&gt; &amp; &lt;@U1|x&gt;"


def test_long_aws_error_is_cut_to_fit() -> None:
    rec = record(state=State.FAILED, error_message="<!here> " + "x" * 10_000)
    blocks = root_blocks(rec, NOW)
    assert validate_blocks(blocks) == blocks  # the sandbox's strict checks pass
    assert checked(blocks) == blocks  # and slack_sdk's models take them as they are
    text = json.dumps(blocks)
    assert "<!here>" not in text and "(cut)" in text


def test_secrets_are_redacted_from_logs() -> None:
    buffer = io.StringIO()
    with redirect_stderr(buffer):
        configure("json")
        structlog.get_logger("t").info(
            "request_handled",
            token="xoxb-123-abc",
            note="sent with xoxb-999-zzz and xapp-1-A-1",
            response_url="https://hooks.slack.com/actions/T/1/abc",
            nested={"signing_secret": "s3cr3t"},
        )
    out = buffer.getvalue()
    for secret in ("xoxb-123-abc", "xoxb-999-zzz", "xapp-1-A-1", "hooks.slack.com/actions", "s3cr3t"):
        assert secret not in out
    assert "request_handled" in out and "[redacted]" in out
    configure("console")


def test_elapsed_uses_the_bots_clock_and_took_uses_the_engines() -> None:
    from datetime import timedelta

    from bot.domain.progress import Phase

    # The sandbox clock may run ahead of the bot's (the demo's speed factor): never mix the two.
    running = record(
        state=State.IN_PROGRESS,
        phase=Phase.SHIFTING,
        started_at=NOW - timedelta(minutes=3),
        engine_started_at=NOW + timedelta(hours=5),
    )
    assert "Elapsed: 3 min" in json.dumps(root_blocks(running, NOW))
    done = running.model_copy(
        update={
            "state": State.SUCCEEDED,
            "finished_at": NOW,
            "engine_finished_at": NOW + timedelta(hours=5, minutes=7, seconds=12),
        }
    )
    assert "Took: 7m 12s" in json.dumps(root_blocks(done, NOW))
