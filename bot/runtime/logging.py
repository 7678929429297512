"""structlog, configured once: JSON for servers, a readable console for the demo, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = re.compile(r"token|secret|password|authorization|response_url|aws_access|credential", re.I)
SECRET_VALUES = re.compile(
    r"xox[abprs]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|AKIA[0-9A-Z]{16}|https?://[^\s\"']*/(?:hooks|commands|actions)/[^\s\"']+"
)
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    if isinstance(value, str):
        return SECRET_VALUES.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEYS.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    return value


def redact_processor(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        event[key] = REDACTED if SECRET_KEYS.search(key) else redact(event[key])
    return event


def configure(fmt: str = "json", level: int = logging.INFO) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_processor,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries (slack_bolt, botocore, aiohttp) log through stdlib; keep them quiet and redacted too.
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RedactFilter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    # We hand Bolt our own client on purpose; its "token will be unused" warning is noise.
    logging.getLogger("slack_bolt.AsyncApp").addFilter(lambda r: "will be unused" not in r.getMessage())


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if record.args:
            record.args = tuple(
                redact(str(a)) for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        return True
