"""The house's direction, read from the code: each room imports only the rooms it may (ruff's banned-api
rule keeps boto3, slack_sdk, slack_bolt, moto and the sandbox in theirs). handlers -> use cases ->
domain <- adapters; only the composition root wires everything and imports handlers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# room -> the bot rooms it may import (its own always). A room is a package under bot/, or handlers.
MAY = {
    "bot.metrics": set(),
    "bot.domain": set(),
    "bot.render": {"bot.domain"},
    "bot.usecases": {"bot.domain", "bot.render", "bot.runtime.tasks"},
    "bot.watch": {"bot.domain", "bot.render", "bot.usecases"},
    "bot.aws": {"bot.domain"},
    "bot.slack": {"bot.domain"},
    "bot.store": {"bot.domain"},
    # The `deploybot` command builds the bot (bot.app), opens stores, starts the sandbox for `demo`, and
    # prints the preflight's lines (bot.render); `deploybot stats` counts with the same use case as Slack's.
    "bot.runtime": {
        "bot.domain",
        "bot.render",
        "bot.store",
        "bot.aws.dynamo_store",
        "bot.app",
        "sandbox.runner",
        "bot.usecases.delivery",
    },
    "handlers": {"bot.domain", "bot.render", "bot.usecases", "bot.slack.verify"},
}


def room_of(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] == "handlers" else ".".join(parts[:2])


def imports(path: Path) -> set[str]:
    """The first-party modules a source file imports (relative imports resolved)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if node.module is None:  # `from .. import metrics`: the modules named are what is imported
                found |= {f"{base}.{a.name}" for a in node.names}
            else:
                found.add(base)
    return {m for m in found if m.split(".")[0] in ("bot", "handlers", "sandbox", "tests", "bench")}


SOURCES = sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_room_imports_only_what_it_may(path: Path) -> None:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    room = room_of(module)
    if module in ("bot.app", "bot.__main__", "bot", "bot.__init__"):
        return  # the composition root and the entry point wire everything
    # Metrics are counted in every room, as logs are written; only the pure domain counts nothing.
    allowed = MAY[room] | ({"bot.metrics"} if room != "bot.domain" else set())
    wrong = {
        m for m in imports(path) if room_of(m) != room and not any(m == a or m.startswith(a + ".") for a in allowed)
    }
    assert not wrong, f"{module} ({room}) imports {sorted(wrong)}"


def test_only_the_composition_root_imports_handlers() -> None:
    for path in (ROOT / "bot").rglob("*.py"):
        if path.name == "app.py" and path.parent.name == "bot":
            continue
        assert not any(m.startswith("handlers") for m in imports(path)), path


def test_the_image_carries_neither_the_sandbox_nor_moto() -> None:
    """The Dockerfile copies only bot/ and handlers/ and installs without the sandbox's extra."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    copies = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ") and "--from" not in line]
    assert "sandbox" not in " ".join(copies) and {"bot", "handlers"} <= set(copies)
    assert "[sandbox]" not in dockerfile and "[dev]" not in dockerfile and "moto" not in dockerfile
    for path in SOURCES:
        assert not any(m.split(".")[0] == "sandbox" for m in imports(path) if path.name != "cli.py"), path
