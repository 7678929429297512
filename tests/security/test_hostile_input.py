"""Hostile strings through every place deploybot echoes input: slash command arguments (app, version,
audit) and what AWS reports (a failing hook's message and log tail, in the thread and the alert). No
mention, broadcast or link may be injected, and no Block Kit limit broken (the sandbox refuses those)."""

from __future__ import annotations

import re

import pytest

from sandbox.aws.moto_ext import CONTROL
from sandbox.aws.simulation import HookFailure
from sandbox.runner import Sandbox
from tests.e2e.helpers import advance, request_and_wait_root, wait_thread

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!here|here>",
    "<!channel|c>",
    "<@U0BOB>",
    "<@U0BOB|bob>",
    "<@W0ENTERPRISE>",
    "<#C0ALERTS>",
    "<#C0ALERTS|alerts>",
    "<!subteam^S0APPROVERS>",
    "<!subteam^S0APPROVERS|@deploy-approvers>",
    "<https://evil.example|click>",
    "<https://evil.example>",
    "<mailto:a@evil.example|mail>",
    "<tel:+15555550100|call>",
    "<!date^1392734382^{date}|x>",
    "<<!channel>>",
    "<!channel",
    "!channel>",
    "&lt;!channel&gt;",
    "&amp;lt;!here&amp;gt;",
    "*bold*<!here>",
    "`<!here>`",
    "```<!here>```",
    "_<!here>_",
    "~<!here>~",
    "\u202e<!here>",
    "<\u200b!channel>",
    "\ufeff<!here>",
    "v1.2.3<!here>",
    "v1.2.3\n<!channel>",
    "v1.2.3\t<!here>",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "${jndi:ldap://evil.example/a}",
    "'; DROP TABLE deployments;--",
    "../../etc/passwd<!here>",
    "%3C!here%3E",
    "<" * 60,
    ">" * 60,
    "<>" * 40,
    "<!here>" * 300,
    "x" * 5000,
    "\uff56\uff11\uff0e\uff12\uff0e\uff13<!here>",  # full-width "v1.2.3"
    "\u0000<!here>",
    "web1<!here>",
    "<@U0BOB><@U0DAVE><!here>",
    "<https://evil.example|<!here>>",
    ":boom:<!here>:boom:",
]
# What deploybot itself writes: user and channel mentions, user groups, and links it builds.
OURS = re.compile(
    r"<@U0[A-Z]+>|<#C0[A-Z]+>|<!subteam\^S0APPROVERS>|<https://[a-z0-9.-]+\.(?:aws\.amazon|slack)\.com/[^|<>\s]*(?:\|[^<>]*)?>"
)


def unsafe(text: str) -> str | None:
    """The first `<` or `>` that is not part of deploybot's own markup, with some context."""
    rest = OURS.sub("", text)
    found = re.search(r"[<>]", rest)
    return rest[max(0, found.start() - 30) : found.end() + 30] if found else None


def everything_sent(box: Sandbox) -> list[str]:
    out = [e.text + str(e.blocks) for e in box.slack.ws.ephemerals]
    for messages in box.slack.ws.messages.values():
        out += [m.text + str(m.blocks) for m in messages]
    return out


def test_at_least_fifty_hostile_strings() -> None:
    assert len(set(HOSTILE)) == len(HOSTILE) >= 50


@pytest.mark.parametrize("transport", ["http"])
async def test_hostile_command_arguments_are_escaped(sandbox: Sandbox, bot: object) -> None:
    for hostile in HOSTILE:
        for text in (f"{hostile} v1.2.3", f"web1 {hostile}", f"audit {hostile}", hostile):
            result = await sandbox.slack.slash(text, user="U0BOB")
            assert result.ok, (text, result.error)
    problems = {t[:80]: unsafe(t) for t in everything_sent(sandbox) if unsafe(t)}
    assert problems == {}
    assert not [h for h in HOSTILE if "<" in h for t in everything_sent(sandbox) if h in t]
    acks = [e for e in sandbox.slack.ws.ephemerals if e.source == "ack"]
    assert len(acks) >= len(HOSTILE) * 3  # every one was answered (within Block Kit's limits)


async def test_hostile_aws_diagnostics_are_escaped_and_cut(sandbox: Sandbox, bot: object) -> None:
    joined = " ".join(HOSTILE)
    CONTROL.fail_next["web1"] = HookFailure(event="AfterAllowTestTraffic", message=joined, log_tail=joined * 3)
    root = await request_and_wait_root(sandbox, "web1 v1.2.3")
    await sandbox.slack.click(root, "deploy_approve", user="U0BOB")
    await wait_thread(sandbox, root, "created with")
    advance(3)
    advance(60)
    failed = await wait_thread(sandbox, root, "`AfterAllowTestTraffic` failed")
    assert "…" in failed or "[cut]" in failed or len(failed) < len(joined)  # cut, with a marker
    advance(30)
    await wait_thread(sandbox, root, "failed after")
    await sandbox.slack.wait_for(lambda: sandbox.slack.messages("C0ALERTS"), what="alert")
    problems = {t[:80]: unsafe(t) for t in everything_sent(sandbox) if unsafe(t)}
    assert problems == {}
    assert not [c for c in sandbox.slack.ws.calls if c.method.startswith("chat.") and not c.ok]
