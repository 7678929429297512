"""Hold the sandbox's answers to the installed botocore model, from outside the sandbox: every raw JSON
body a boto3 client receives is checked against the operation's output shape (no member the model does
not define, every required member present, every enum value one the model lists, every type right).

botocore's own parser silently drops what it does not know, so the raw bytes are what is checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

NUMBERS = {"integer": int, "long": int, "float": (int, float), "double": (int, float)}


def problems(shape: Shape, value: Any, where: str = "$") -> Iterator[str]:
    """What in ``value`` does not match ``shape`` (JSON protocol: timestamps are epoch seconds)."""
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            yield f"{where}: {type(value).__name__}, not a {shape.name} structure"
            return
        names = {m.serialization.get("name", name): name for name, m in shape.members.items()}
        for key, item in value.items():
            if key not in names:
                yield f"{where}.{key}: not a member of {shape.name}"
            elif item is not None:
                yield from problems(shape.members[names[key]], item, f"{where}.{key}")
        for required in shape.required_members:
            if required not in value:
                yield f"{where}: {shape.name} lacks required {required}"
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            yield f"{where}: {type(value).__name__}, not a list"
            return
        for i, item in enumerate(value):
            yield from problems(shape.member, item, f"{where}[{i}]")
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            yield f"{where}: {type(value).__name__}, not a map"
            return
        for key, item in value.items():
            yield from problems(shape.value, item, f"{where}[{key!r}]")
    elif kind == "string":
        if not isinstance(value, str):
            yield f"{where}: {type(value).__name__}, not a string"
        elif shape.enum and value not in shape.enum:
            yield f"{where}: {value!r} is not one of {shape.name}'s values {sorted(shape.enum)}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield f"{where}: {value!r} is not a boolean"
    elif kind in NUMBERS:
        if isinstance(value, bool) or not isinstance(value, NUMBERS[kind]):
            yield f"{where}: {value!r} is not a {kind}"
    elif kind == "timestamp" and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
        yield f"{where}: {value!r} is not a timestamp"


@dataclass
class Recorder:
    """Every answer a client got, by operation: register it on a client with ``watch``."""

    bodies: dict[str, list[Any]] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)

    def watch(self, client: Any) -> Any:
        client.meta.events.register("after-call", self.after)
        return client

    def after(self, http_response: Any, model: Any, **_: Any) -> None:
        if http_response.status_code >= 300 or model.output_shape is None or not http_response.content:
            return
        body = json.loads(http_response.content)
        self.bodies.setdefault(model.name, []).append(body)
        self.found += [f"{model.name} {p}" for p in problems(model.output_shape, body)]
