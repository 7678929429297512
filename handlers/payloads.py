"""Slack payloads become pydantic models once, here at the edge."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SlashCommand(BaseModel):
    model_config = ConfigDict(extra="ignore")

    team_id: str = Field(min_length=1)
    user_id: str = Field(min_length=1)
    channel_id: str = Field(min_length=1)
    command: str
    text: str = ""
    response_url: str = Field(min_length=1)
    trigger_id: str = ""


class _User(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    team_id: str = Field(min_length=1)


class _Channel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)


class _Team(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)


class _Action(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action_id: str
    value: str = Field(min_length=1, max_length=64)


class ButtonClick(BaseModel):
    """A button on a message (``channel`` set) or on the Home tab (no channel)."""

    model_config = ConfigDict(extra="ignore")

    user: _User
    channel: _Channel | None = None
    actions: list[_Action] = Field(min_length=1)
    trigger_id: str = ""


class DeployButton(BaseModel):
    """The Home tab's Deploy button: who pressed it, and the trigger that opens the dialog."""

    model_config = ConfigDict(extra="ignore")

    user: _User
    trigger_id: str = Field(min_length=1)


class HomeOpened(BaseModel):
    """The ``app_home_opened`` event (its ``tab``: home, messages or about)."""

    model_config = ConfigDict(extra="ignore")

    user: str = Field(min_length=1)
    tab: str = "home"


class _Option(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: str = Field(min_length=1, max_length=150)


class _Select(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action_id: str
    block_id: str = ""
    selected_option: _Option | None = None


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore")

    values: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)


class _View(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    hash: str = ""
    callback_id: str = ""
    private_metadata: str = Field(default="", max_length=3000)
    state: _State = Field(default_factory=_State)


class DialogChange(BaseModel):
    """An app or environment picked in the open deploy dialog (block_actions from a view)."""

    model_config = ConfigDict(extra="ignore")

    user: _User
    view: _View
    actions: list[_Select] = Field(min_length=1)


class Suggestion(BaseModel):
    """A version select asking for its options (block_suggestion); ``value`` is what was typed."""

    model_config = ConfigDict(extra="ignore")

    user: _User
    action_id: str
    block_id: str = Field(max_length=255)
    value: str = Field(default="", max_length=150)


class Submission(BaseModel):
    """The deploy dialog submitted (view_submission)."""

    model_config = ConfigDict(extra="ignore")

    user: _User
    team: _Team | None = None
    view: _View
