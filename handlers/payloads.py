"""Slack payloads become pydantic models once, here at the edge."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SlashCommand(BaseModel):
    model_config = ConfigDict(extra="ignore")

    team_id: str = Field(min_length=1)
    user_id: str = Field(min_length=1)
    channel_id: str = Field(min_length=1)
    command: str
    text: str = ""
    response_url: str = Field(min_length=1)


class _User(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    team_id: str = Field(min_length=1)


class _Channel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)


class _Action(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action_id: str
    value: str = Field(min_length=1, max_length=64)


class ButtonClick(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user: _User
    channel: _Channel
    actions: list[_Action] = Field(min_length=1)
