"""The app catalog (YAML, validated by pydantic): what can be deployed, where, and who decides.

An app is deployed to one or more environments (staging, prod). Settings given at the app's level
are shared by its environments, and each environment can override any of them. An app written
without `environments` has one, named by `default_environment` (default `production`).
Everything else works on ``AppConfig``: one app in one environment, every field resolved. The file is
read and its errors phrased in ``bot.runtime.config``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .freezes import FreezeWindow

DEFAULT_VERSION_PATTERN = r"^v[0-9a-zA-Z._-]+$"  # the current release workflow's check
DEFAULT_ENVIRONMENT = "production"
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
REQUIRED = ("cluster", "service", "repository", "deploy_channel")
# The words `/deploy` itself understands (its parser reads them from here); no app may be named after one.
COMMAND_WORDS = ("help", "audit", "status", "history", "lock", "unlock", "rollback", "freeze", "unfreeze", "stats")
RESERVED = frozenset({*COMMAND_WORDS, "to"})


class People(BaseModel):
    """Slack users and user groups, by id (names can be changed by anyone; ids cannot)."""

    model_config = ConfigDict(extra="forbid")

    users: list[str] = Field(default_factory=list)
    usergroups: list[str] = Field(default_factory=list)

    @field_validator("users", "usergroups")
    @classmethod
    def _ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"[A-Z0-9]{2,20}", value):
                raise ValueError(f"{value!r} is not a Slack id (like U0123ABCD or S0123ABCD)")
        return values

    @property
    def empty(self) -> bool:
        return not self.users and not self.usergroups


class Target(BaseModel):
    """What the YAML may say for an app or one of its environments (all optional here)."""

    model_config = ConfigDict(extra="forbid")

    cluster: str | None = None
    service: str | None = None
    container: str | None = None
    repository: str | None = None
    codedeploy_application: str | None = None
    deployment_group: str | None = None
    # Where the service runs when it is not deploybot's own account and region: the region, and an IAM
    # role deploybot assumes there (with an external id when the role's trust policy asks for one).
    region: str | None = None
    aws_role_arn: str | None = None
    aws_external_id: str | None = None
    deploy_channel: str | None = None
    alert_channel: str | None = None
    version_pattern: str | None = None
    approvers: People | None = None
    approvals: int | None = Field(default=None, ge=1, le=5)  # distinct approvers needed before it starts
    allow_self_approval: bool | None = None
    require_approval: bool | None = None  # false: starts without an approval (a staging environment, say)
    lock_after_rollback: bool | None = None  # true: a rolled-back deployment locks the app until unlocked
    oncall: str | None = None  # a user (U…) or user group (S…) mentioned in failure alerts
    # Who may ask for a deployment; unset: anyone in the workspace (an approver still has to approve).
    requesters: People | None = None
    # Channels where `/deploy <app>` is accepted; empty: any channel (the thread always goes to deploy_channel).
    request_channels: list[str] | None = None
    # Change freezes of this app (or environment): weekly or one-off windows in which nothing is deployed.
    freezes: list[FreezeWindow] | None = None
    # Who may deploy with `--emergency "reason"`, skipping the approval and any freeze (nobody by default).
    emergency: People | None = None

    @field_validator("freezes")
    @classmethod
    def _own_environment(cls, value: list[FreezeWindow] | None) -> list[FreezeWindow] | None:
        for window in value or []:
            if window.environments:
                raise ValueError(f"freeze {window.name!r}: `environments` is for the catalog's top-level freezes only")
        return value

    @field_validator("oncall")
    @classmethod
    def _slack_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[USW][A-Z0-9]{2,20}", value):
            raise ValueError(f"{value!r} is not a Slack user or user group id (like U0123ABCD or S0123ABCD)")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-[0-9]", value):
            raise ValueError(f"{value!r} is not an AWS region (like eu-west-1)")
        return value

    @field_validator("aws_role_arn")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}", value
        ):
            raise ValueError(f"{value!r} is not an IAM role ARN (like arn:aws:iam::123456789012:role/deploybot)")
        return value

    @field_validator("aws_external_id")
    @classmethod
    def _external_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9+=,.@:_/-]{2,1224}", value):
            raise ValueError("an external id is 2 to 1224 letters, digits and +=,.@:/-_")
        return value

    @field_validator("version_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class AppEntry(Target):
    default_environment: str | None = None
    environments: dict[str, Target] | None = None


class AppConfig(BaseModel):
    """One app in one environment, every field resolved: what a deployment runs against."""

    model_config = ConfigDict(frozen=True)

    name: str
    environment: str = DEFAULT_ENVIRONMENT
    only_environment: bool = True  # the app has no other: messages need not name it
    cluster: str
    service: str
    container: str
    repository: str
    # CodeDeploy's names for the service, when it deploys through CodeDeploy (None: the engine's default).
    codedeploy_application: str | None = None
    deployment_group: str | None = None
    region: str | None = None  # None: deploybot's own region
    aws_role_arn: str | None = None  # None: deploybot's own credentials
    aws_external_id: str | None = None
    deploy_channel: str
    alert_channel: str
    version_pattern: str = DEFAULT_VERSION_PATTERN
    approvers: People = Field(default_factory=People)
    approvals: int = 1
    allow_self_approval: bool = False
    require_approval: bool = True
    lock_after_rollback: bool = False
    oncall: str | None = None
    requesters: People | None = None
    request_channels: list[str] = Field(default_factory=list)
    freezes: tuple[FreezeWindow, ...] = ()  # the app's own, then the catalog's top-level ones that cover it
    emergency: People = Field(default_factory=People)

    @property
    def label(self) -> str:
        """How messages name it: `web1`, or `web1 (prod)` when the app has several environments."""
        return self.name if self.only_environment else f"{self.name} ({self.environment})"

    @property
    def key(self) -> str:
        return f"{self.name}:{self.environment}"

    @property
    def account(self) -> tuple[str | None, str | None, str | None]:
        """Where its AWS calls go: (region, role, external id); None: deploybot's own."""
        return self.region, self.aws_role_arn, self.aws_external_id


def resolve(
    name: str,
    environment: str,
    fields: dict[str, Any],
    only: bool,
    where_: str,
    everywhere: tuple[FreezeWindow, ...] = (),
) -> AppConfig:
    missing = [f for f in REQUIRED if not fields.get(f)]
    if missing:
        raise ValueError("; ".join(f"{where_}.{field}: Field required" for field in missing))
    defaults = {"container": name, "alert_channel": fields["deploy_channel"]}
    merged = {**defaults, **{k: v for k, v in fields.items() if v is not None}}
    covering = tuple(w for w in everywhere if not w.environments or environment in w.environments)
    merged["freezes"] = (*merged.get("freezes", ()), *covering)
    return AppConfig(name=name, environment=environment, only_environment=only, **merged)


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apps: dict[str, AppEntry]
    freezes: list[FreezeWindow] = Field(default_factory=list)  # for every app (or the environments listed)
    targets: dict[str, AppConfig] = Field(default_factory=dict, exclude=True)  # by AppConfig.key
    defaults: dict[str, str] = Field(default_factory=dict, exclude=True)  # app -> default environment

    @model_validator(mode="after")
    def _resolve(self) -> Catalog:
        if not self.apps:
            raise ValueError("the catalog lists no apps")
        for name, entry in self.apps.items():
            if not NAME.fullmatch(name):
                raise ValueError(f"app name {name!r} must be lowercase letters, digits and dashes")
            if name in RESERVED:
                raise ValueError(f"app name {name!r} is a /deploy command word; choose another name")
            shared = entry.model_dump(exclude_none=True, exclude={"environments", "default_environment"})
            envs = entry.environments or {entry.default_environment or DEFAULT_ENVIRONMENT: Target()}
            default = entry.default_environment or next(iter(envs))
            if default not in envs:
                raise ValueError(f"apps.{name}.default_environment: {default!r} is not one of its environments")
            for env, target in envs.items():
                if not NAME.fullmatch(env):
                    raise ValueError(f"apps.{name}.environments: {env!r} must be lowercase letters, digits, dashes")
                fields = {**shared, **target.model_dump(exclude_none=True)}
                place = f"apps.{name}.environments.{env}" if entry.environments else f"apps.{name}"
                app = resolve(name, env, fields, len(envs) == 1, place, tuple(self.freezes))
                self.targets[app.key] = app
            self.defaults[name] = default
        return self

    def get(self, name: str, environment: str | None = None) -> AppConfig | None:
        """The app in that environment (its default environment when none is named)."""
        env = environment or self.defaults.get(name)
        return self.targets.get(f"{name}:{env}") if env else None

    def names(self) -> list[str]:
        return sorted(self.apps)

    def environments(self, name: str) -> list[str]:
        return [t.environment for t in self.targets.values() if t.name == name]

    def overview(self) -> dict[str, list[str]]:
        """Each app's environments, its default first (for help texts)."""
        return {
            name: sorted(self.environments(name), key=lambda e: (e != self.defaults[name], e)) for name in self.names()
        }

    def all(self) -> list[AppConfig]:
        return list(self.targets.values())

    def warnings(self) -> list[str]:
        """What is allowed but probably not meant: said at start-up and by `deploybot check`."""
        out = []
        for app in self.targets.values():
            if not app.require_approval:
                continue
            if app.approvers.empty:
                out.append(f"{app.label}: no approvers, so nobody can approve a deployment of it (fail closed)")
            elif app.approvals > len(app.approvers.users) and not app.approvers.usergroups:
                out.append(
                    f"{app.label}: needs {app.approvals} approvals but lists only "
                    f"{len(app.approvers.users)} approver(s), so it can never start"
                )
        return out
