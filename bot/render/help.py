"""`/deploy help`: every command, with an example, and the apps of the catalog."""

from __future__ import annotations

from typing import Any

from .text import mrkdwn


def help_blocks(apps: dict[str, list[str]]) -> tuple[str, list[dict[str, Any]]]:
    """``apps``: each app's environments, its default first."""
    names = []
    for name in sorted(apps):
        envs = apps[name]
        names.append(f"`{name}`" + (f" ({', '.join(envs)}; default {envs[0]})" if len(envs) > 1 else ""))
    text = (
        "*/deploy &lt;app&gt; &lt;version&gt; [to &lt;environment&gt;]* asks to deploy that image tag to the app's "
        "ECS service with the service's own deployment engine. An approver presses *Approve*; the thread then "
        "follows the deployment live.\n"
        "• `/deploy web1 v1.2.3`: deploy tag `v1.2.3` (checked in ECR and pinned by digest)\n"
        "• `/deploy web1 v1.2.3 to staging`: the same in another environment of the app\n"
        "• `/deploy web1 v1.2.3 --queue`: if web1 is busy or locked, wait in line instead of being refused\n"
        "• `/deploy web1 latest`: deploy the version that `latest` points at\n"
        "• `/deploy status [web1 [production]]`: what runs where, since when, by whom, and what is in flight\n"
        "• `/deploy history web1 [staging]`: the latest deployments, also those deploybot did not start\n"
        "• `/deploy rollback web1 [staging]`: redeploy the last known-good release (same approval as any deploy)\n"
        "• `/deploy lock web1 [production] [reason]` / `/deploy unlock web1`: stop and allow deploys there\n"
        "• `/deploy audit web1`: who requested, approved and changed what, newest first (approvers and requesters)\n"
        "• `/deploy freeze web1 [production] 2h [reason]` / `/deploy unfreeze web1`: a change freeze (approvers)\n"
        '• `/deploy web1 v1.2.3 --emergency "reason"`: break-glass, no approval and past a freeze (if allowed)\n'
        "• `/deploy stats web1 [production] [30d]`: deploy frequency, lead time, change failure rate, time to restore\n"
        "• `/deploy help`: this message\n"
        f"Apps: {', '.join(names)}\n"
        "Buttons: *Approve* / *Cancel* the request, *Shift traffic* when green is ready, *Finish now* to end the "
        "wait that keeps blue up, *Roll back* at any time while it runs."
    )
    return "deploybot help", [{"type": "section", "text": mrkdwn(text)}, {"type": "divider"}]
