"""Every emoji shortcode deploybot writes (its texts live in `bot/render`) is one the sandbox page draws,
so no message there shows `:name:`."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_sandbox_page_draws_every_emoji_the_bot_writes() -> None:
    used = set()
    for path in [*(ROOT / "bot" / "render").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]:
        used |= set(re.findall(r"(?<![\w:<])(?::)([a-z_]{2,40})(?::)(?=[\s\"*])", path.read_text()))
    script = (ROOT / "sandbox" / "web" / "app.js").read_text()
    drawn = set(re.findall(r"([a-z_]+): \"", script.split("const EMOJI = {", 1)[1].split("};", 1)[0]))
    assert {"snowflake", "rotating_light", "lock"} <= used  # the scan finds them
    assert used - drawn == set()
