"""Safe output: escaped text, cut to Block Kit's limits; secrets never in logs."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr

import structlog

from bot.domain.models import State
from bot.render.answers import Running, history_text, status_text
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


def test_every_root_layout_fits_block_kit_and_slack_sdk() -> None:
    """Every state and phase (with a gate, an early finish, the engine's stage and bake end) renders blocks
    the sandbox's strict checks and slack_sdk's models both take as they are."""
    from datetime import timedelta

    from bot.domain.progress import Gate, Phase

    gates = [None, Gate(id="g", opens=Phase.SHIFTING), Gate(id="h", opens=Phase.PROVISIONING, stage="PRE_SCALE_UP")]
    seen_buttons: set[str] = set()
    for state in State:
        for phase in Phase:
            for gate in gates:
                rec = record(
                    state=state,
                    phase=phase,
                    gate=gate,
                    can_finish_early=phase is Phase.BAKING,
                    stage="BAKE_TIME" if phase is Phase.BAKING else None,
                    test_traffic=50.0 if gate else None,
                    bake_ends_at=NOW + timedelta(minutes=30),
                    started_at=NOW,
                    deployment_id="d-1",
                    link="https://example.com/d-1",
                )
                blocks = root_blocks(rec, NOW)
                assert validate_blocks(blocks) == blocks and checked(blocks) == blocks
                seen_buttons |= {e["text"]["text"] for b in blocks if b["type"] == "actions" for e in b["elements"]}
    assert seen_buttons == {
        "Approve",
        "Cancel",
        "Leave the line",
        "Shift traffic",
        "Continue",
        "Finish now",
        "Roll back",
    }
    baking = record(
        state=State.IN_PROGRESS, phase=Phase.BAKING, stage="BAKE_TIME", bake_ends_at=NOW + timedelta(minutes=30)
    )
    text = json.dumps(root_blocks(baking, NOW))
    assert "Stage: `BAKE_TIME`" in text and "Blue is let go at 12:30 UTC (30 min left)" in text


def test_a_rolling_update_speaks_of_tasks_and_a_pause_of_its_timeout() -> None:
    """Words follow the engine: no blue or green for a rolling update, the pause's own timeout action, the
    short name of an ECS ARN."""
    from datetime import timedelta

    from bot.domain.lifecycle import Milestone, MilestoneKind
    from bot.domain.progress import Gate, OnTimeout, Phase
    from bot.render.replies import milestone_text, rollback_asked

    arn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/apps/shop/AbC123"
    rolling = record(
        state=State.IN_PROGRESS,
        phase=Phase.SHIFTING,
        blue_green=False,
        traffic=50.0,
        started_at=NOW,
        deployment_id=arn,
        engine_name="ECS",
    )
    text = json.dumps(root_blocks(rolling, NOW))
    assert "50% of the tasks run the new version" in text and "Replacing tasks" in text
    assert "green" not in text and "blue" not in text
    assert "AbC123" in text and arn not in text  # the engine's field shows the short id
    assert "going back to the old version" in rollback_asked(rolling, "U0BOB")
    started = milestone_text(rolling, Milestone(MilestoneKind.STARTED))
    assert started == ":arrow_forward: ECS started `AbC123`."

    gate = Gate(
        id="h",
        opens=Phase.BAKING,
        stage="POST_PRODUCTION_TRAFFIC_SHIFT",
        expires_at=NOW + timedelta(minutes=30),
        on_timeout=OnTimeout.GO_ON,
    )
    paused = record(state=State.IN_PROGRESS, phase=Phase.GATED, gate=gate, started_at=NOW, engine_name="ECS")
    text = json.dumps(root_blocks(paused, NOW))
    assert "Paused at POST_PRODUCTION_TRAFFIC_SHIFT" in text and '"Continue"' in text
    assert "The pause ends at 12:30 UTC; then ECS goes on by itself" in text
    told = milestone_text(paused, Milestone(MilestoneKind.GATED))
    assert told is not None and "At 12:30 UTC ECS stops waiting and goes on by itself." in told


def test_version_links_carry_no_code_formatting_in_their_label() -> None:
    # Slack shows a link label as typed: backticks inside it appear as backticks.
    pending = record(state=State.PENDING_APPROVAL)
    row = Running("web1", "v1.2.2", "sha256:" + "b" * 64, "td/web1:3", NOW, None, None, [(pending, "https://t/1")])
    status = status_text([row])
    history = history_text("web1", [record(state=State.SUCCEEDED)], [], {"r-1": "https://t/2"})
    assert "<https://t/1|v1.2.3>" in status and "<https://t/2|v1.2.3>" in history
    assert not re.search(r"<[^>|]+\|[^>]*`", status + history)


def test_a_service_older_than_deploybot_says_so_rather_than_an_unknown_time() -> None:
    seeded = Running("web1", "v1.2.2", "sha256:" + "b" * 64, "td/web1:3", None, None, None, [])
    known = Running("web2", "v1.0.0", "sha256:" + "c" * 64, "td/web2:1", NOW, None, None, [])
    text = status_text([seeded, known])
    assert "since before deploybot knew it" in text and "unknown time" not in text
    assert f"since {NOW:%Y-%m-%d %H:%M} UTC" in text


def test_history_names_a_running_deployment_by_its_state_not_its_raw_value() -> None:
    running = record(state=State.IN_PROGRESS, started_at=NOW)
    back = record(id="r-2", state=State.ROLLING_BACK, started_at=NOW)
    text = history_text("web1", [running, back], [], {})
    assert "*In progress*" in text and "*Rolling back*" in text
    assert "in_progress" not in text and "rolling_back" not in text
