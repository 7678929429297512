"""Property tests of everything typed after /deploy. `make test` runs the fast profile; `make fuzz`
runs at least 10,000 examples per property (HYPOTHESIS_PROFILE=long)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.catalog import DEFAULT_VERSION_PATTERN
from bot.domain.errors import DeployError
from bot.domain.lifecycle import MAX_VERSION_LENGTH, check_version
from bot.runtime.config import load_catalog
from handlers.commands import parse, tokens
from sandbox.runner import CATALOG

CATALOG_ = load_catalog(CATALOG)
ECR_TAG = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # what ECR accepts as a tag
# Texts that look like commands: app names, versions, keywords, hostile markup, any character at all.
pieces = st.one_of(
    st.sampled_from(["web1", "web2", "audit", "help", "latest", "v1.2.3", "<!here>", "<@U0BOB>", "&", "\n", "\t"]),
    st.text(min_size=0, max_size=12),
    st.from_regex(r"v[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", fullmatch=True),
)
command_text = st.lists(pieces, max_size=5).map(" ".join)


def safe(message: str) -> bool:
    """No raw `<` or `>` (mentions and links) and no `&` that does not start an escape."""
    return not re.search(r"[<>]|&(?!amp;|lt;|gt;)", message)


@given(st.text(max_size=300))
def test_a_version_is_accepted_only_when_it_is_a_clean_tag(text: str) -> None:
    try:
        accepted = check_version(text, DEFAULT_VERSION_PATTERN)
    except DeployError as exc:
        assert safe(exc.message)
        return
    assert accepted == text and ECR_TAG.fullmatch(text) and len(text) <= MAX_VERSION_LENGTH


@given(command_text)
def test_any_command_text_parses_or_gets_a_safe_message(text: str) -> None:
    try:
        parsed = parse(text, CATALOG_)
    except DeployError as exc:
        assert safe(exc.message.replace("`", "")), exc.message
        return
    assert parsed.kind in ("help", "audit", "deploy", "dialog")
    if parsed.kind != "help":
        assert parsed.app is not None and parsed.app.name in CATALOG_.apps
    if parsed.kind == "deploy":
        assert parsed.version == "latest" or ECR_TAG.fullmatch(parsed.version)
        assert tokens(text) == [parsed.app.name, parsed.version]  # type: ignore[union-attr]
    if parsed.kind == "dialog":  # an app alone, nothing else: the dialog asks for the version
        assert tokens(text) == [parsed.app.name]  # type: ignore[union-attr]


@given(st.text(max_size=200))
def test_unknown_app_names_are_refused_safely(name: str) -> None:
    try:
        parsed = parse(f"{name} v1.2.3", CATALOG_)
    except DeployError as exc:
        assert safe(exc.message)
        return
    assert parsed.kind == "help" or (parsed.app is not None and parsed.app.name in CATALOG_.apps)
