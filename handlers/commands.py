"""`/deploy`: parse and validate the text, ack within Slack's 3 seconds, hand the AWS work to a task."""

from __future__ import annotations

import difflib
import re
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.domain.catalog import COMMAND_WORDS, AppConfig, Catalog
from bot.domain.errors import DeployError, UnknownApp
from bot.domain.freezes import span
from bot.domain.lifecycle import check_version
from bot.render import answers
from bot.render.help import help_blocks
from bot.render.text import esc
from bot.usecases.services import Services

from .payloads import SlashCommand

log = structlog.get_logger(__name__)
COMMAND = "/deploy"


def tokens(text: str) -> list[str]:
    # Split on spaces only: a newline or tab inside the version must reach validation and be refused.
    return [t for t in re.split(r" +", text.strip(" ")) if t]


@dataclass(frozen=True)
class Parsed:
    kind: str  # "deploy", or one of the command words ("help", "status", "lock", …)
    app: AppConfig | None = None
    version: str = ""
    apps: tuple[AppConfig, ...] = ()  # for status
    reason: str = ""  # for lock and freeze, and an emergency's
    length: timedelta | None = None  # for freeze
    emergency: bool = False
    queue: bool = False  # wait in line when the app is busy or locked
    days: int = 0  # for stats


DAYS, MAX_DAYS = 30, 365  # `/deploy stats`: the period by default, and the longest
CLOSE = 0.6  # difflib's similarity above which a typo gets a suggestion


def parse(text: str, catalog: Catalog) -> Parsed:
    """What the command text asks for; DeployError (with a message safe to show) when it is not valid."""
    text, queue = _flag(text, "--queue")
    parsed = _parse(text, catalog)
    if not queue:
        return parsed
    if parsed.kind not in ("deploy", "rollback"):
        raise DeployError(f"`--queue` goes with a deploy or a rollback. {answers.USAGE}")
    return replace(parsed, queue=True)


def _parse(text: str, catalog: Catalog) -> Parsed:
    words = tokens(text)
    if not words or words[0] in ("help", "-h", "--help"):
        return Parsed("help")
    if words[0] == "audit":
        if len(words) != 2:
            raise DeployError(answers.usage("audit"))
        return Parsed("audit", _app(words[1], None, catalog))
    if words[0] == "status":
        if len(words) > 3:
            raise DeployError(answers.usage("status"))
        if len(words) == 1:
            return Parsed("status", apps=tuple(catalog.all()))
        if len(words) == 3:
            return Parsed("status", apps=(_app(words[1], words[2], catalog),))
        _app(words[1], None, catalog)
        return Parsed("status", apps=tuple(a for a in catalog.all() if a.name == words[1]))
    if words[0] in ("lock", "unlock"):
        if len(words) < 2 or (words[0] == "unlock" and len(words) > 3):
            raise DeployError(answers.usage("lock"))
        name, rest = words[1], words[2:]
        _app(name, None, catalog)
        env = rest[0] if rest and rest[0] in catalog.environments(name) else None
        if env is not None:
            rest = rest[1:]
        if words[0] == "unlock" and rest:
            raise DeployError(answers.not_an_environment(rest[0], name))
        reason = " ".join(text.split(None, 3 if env else 2)[3 if env else 2 :]) if rest else ""
        return Parsed(words[0], _app(name, env, catalog), reason=reason[:300])
    if words[0] in ("freeze", "unfreeze"):
        return _freeze(words, catalog)
    if words[0] == "rollback":
        if len(words) not in (2, 3):
            raise DeployError(answers.usage("rollback"))
        return Parsed("rollback", _app(words[1], words[2] if len(words) == 3 else None, catalog))
    if words[0] == "stats":
        return _stats(words, catalog)
    if words[0] == "history":
        if len(words) not in (2, 3):
            raise DeployError(answers.usage("history"))
        return Parsed("history", _app(words[1], words[2] if len(words) == 3 else None, catalog))
    if len(words) == 1 and words[0] in catalog.apps:
        return Parsed("dialog", _app(words[0], None, catalog))  # no version: the dialog offers them
    if len(words) == 1:
        raise DeployError(answers.need_app_and_version(_closest(words[0], catalog)))
    text, emergency = _emergency(text)
    if emergency is not None:
        words = tokens(text)
    name, version, *rest = words
    if rest[:1] == ["to"]:
        rest = rest[1:]
    if len(rest) > 1 or (len(words) == 3 and words[2] == "to"):
        raise DeployError(answers.need_at_most_one_environment())
    app_cfg = _app(name, rest[0] if rest else None, catalog)
    if version != "latest":
        check_version(version, app_cfg.version_pattern)
    if emergency is not None:
        return Parsed("deploy", app_cfg, version, reason=emergency, emergency=True)
    return Parsed("deploy", app_cfg, version)


def _flag(text: str, flag: str) -> tuple[str, bool]:
    """The text without ``flag`` (a word of its own), and whether it was there."""
    words = text.split(" ")
    if flag not in words:
        return text, False
    return " ".join(w for w in words if w != flag), True


QUOTES = "\"'\u201c\u201d\u2018\u2019"  # Slack turns typed quotes into curly ones


def _emergency(text: str) -> tuple[str, str | None]:
    """The text before `--emergency`, and the reason after it (None: not an emergency)."""
    before, flag, after = text.partition("--emergency")
    if not flag:
        return text, None
    reason = after.strip().strip(QUOTES).strip()
    if not reason or not tokens(before):
        raise DeployError(answers.usage("emergency"))
    return before, reason[:300]


def _stats(words: list[str], catalog: Catalog) -> Parsed:
    """`stats <app> [<environment>] [<days>d]`."""
    if len(words) < 2 or len(words) > 4:
        raise DeployError(answers.usage("stats"))
    rest = words[2:]
    days = DAYS
    if rest and re.fullmatch(r"[0-9]{1,3}d", rest[-1]):
        days = int(rest.pop()[:-1])
    if len(rest) > 1 or not 1 <= days <= MAX_DAYS:
        raise DeployError(answers.usage("stats"))
    return Parsed("stats", _app(words[1], rest[0] if rest else None, catalog), days=days)


def _freeze(words: list[str], catalog: Catalog) -> Parsed:
    """`freeze <app> [<environment>] <duration> [reason]`, `unfreeze <app> [<environment>]`."""
    if len(words) < 2:
        raise DeployError(answers.usage("freeze"))
    name, rest = words[1], words[2:]
    _app(name, None, catalog)
    env = rest[0] if rest and rest[0] in catalog.environments(name) else None
    rest = rest[1:] if env is not None else rest
    if words[0] == "unfreeze":
        if rest:
            raise DeployError(answers.usage("freeze"))
        return Parsed("unfreeze", _app(name, env, catalog))
    if not rest:
        raise DeployError(answers.usage("freeze"))
    try:
        length = span(rest[0])
    except ValueError as exc:
        raise DeployError(f"{esc(str(exc))}. {answers.usage('freeze')}") from None
    return Parsed("freeze", _app(name, env, catalog), reason=" ".join(rest[1:])[:300], length=length)


def _app(name: str, environment: str | None, catalog: Catalog) -> AppConfig:
    if name not in catalog.apps:
        raise UnknownApp(name, catalog.names(), answers.did_you_mean(_closest(name, catalog)))
    found = catalog.get(name, environment)
    if found is None:
        raise DeployError(answers.no_such_environment(name, environment, catalog.environments(name)))
    return found


def _closest(word: str, catalog: Catalog) -> str | None:
    """`status` for a near miss of a command word or an app name (`statsu`), else None."""
    scored = sorted(
        ((difflib.SequenceMatcher(None, word, c).ratio(), c) for c in {*COMMAND_WORDS, *catalog.names()}), reverse=True
    )
    if not scored or scored[0][0] < CLOSE or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None  # nothing close, or two equally close (web9: web1 or web2?): no guess
    return scored[0][1]


def register(app: AsyncApp, services: Services) -> None:
    @app.command(COMMAND)
    async def deploy(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            cmd = SlashCommand.model_validate(body)
        except ValidationError:
            log.warning("command_malformed")
            await ack(text=answers.malformed())
            return
        try:
            parsed = parse(cmd.text, services.catalog)
        except DeployError as exc:
            await ack(text=exc.message)
            return
        if parsed.kind == "help" or (parsed.app is None and parsed.kind != "status"):
            text, blocks = help_blocks(services.catalog.overview())
            await ack(text=text, blocks=blocks)
            return
        if parsed.kind == "dialog" and parsed.app is not None and cmd.trigger_id:
            await ack()  # the dialog opens instead of an answer
            work = services.dialog.open(cmd.trigger_id, cmd.user_id, cmd.channel_id, parsed.app.name)
            services.tasks.spawn("dialog_open", work)
            return
        if parsed.kind == "dialog":
            await ack(text=answers.need_app_and_version(None))
            return
        await ack()  # nothing yet: the answer follows, with a holding note first only if it is slow
        note = answers.working(parsed.kind, parsed.app, parsed.version)
        services.tasks.spawn(parsed.kind, services.holding.run(cmd.response_url, note, _work(services, parsed, cmd)))


def _work(services: Services, parsed: Parsed, cmd: SlashCommand) -> Coroutine[Any, Any, object]:
    """The use case a parsed command asks for (run in a supervised task, after the ack)."""
    app = parsed.app
    if parsed.kind == "status" or app is None:
        return services.reports.status(list(parsed.apps), cmd.team_id, cmd.response_url)
    if parsed.kind == "lock":
        return services.holds.lock(app, cmd.user_id, cmd.team_id, parsed.reason, cmd.response_url)
    if parsed.kind == "unlock":
        return services.holds.unlock(app, cmd.user_id, cmd.team_id, cmd.response_url)
    if parsed.kind == "history":
        return services.reports.history(app, cmd.team_id, cmd.response_url)
    if parsed.kind == "audit":
        return services.reports.audit(app, cmd.user_id, cmd.team_id, cmd.response_url)
    if parsed.kind == "freeze" and parsed.length is not None:
        return services.freezes.freeze(app, cmd.user_id, cmd.team_id, parsed.length, parsed.reason, cmd.response_url)
    if parsed.kind == "stats":
        return services.reports.stats(app, parsed.days, cmd.team_id, cmd.response_url)
    if parsed.kind == "unfreeze":
        return services.freezes.unfreeze(app, cmd.user_id, cmd.team_id, cmd.response_url)
    structlog.contextvars.bind_contextvars(app=app.name, version=parsed.version)
    rollback = parsed.kind == "rollback"
    emergency = parsed.reason if parsed.emergency else None
    return services.requests.request(
        app,
        parsed.version,
        cmd.user_id,
        cmd.team_id,
        cmd.response_url,
        cmd.channel_id,
        rollback=rollback,
        emergency=emergency,
        queue=parsed.queue,
    )
