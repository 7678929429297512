"""What a preflight found about one app in one environment: the engine its service deploys with, the
problems that stop a deployment (each saying what to fix) and the warnings that do not."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Check(BaseModel):
    model_config = ConfigDict(frozen=True)

    app: str
    environment: str
    engine: str = ""  # the engine detected, in words ("" when the service could not be read)
    problems: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problems

    def plus(self, problems: list[str], warnings: list[str]) -> Check:
        return Check(
            app=self.app,
            environment=self.environment,
            engine=self.engine,
            problems=[*self.problems, *problems],
            warnings=[*self.warnings, *warnings],
        )
