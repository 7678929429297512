"""Errors the domain raises; each message says what was wrong and what to do about it."""

from __future__ import annotations


def shown(text: object) -> str:
    """Someone's input, made safe to show in Slack: no `<!channel>`, mention or link survives."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class DeployError(Exception):
    """Shown to the person who asked, as is (plain text, already safe to display)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownApp(DeployError):
    def __init__(self, app: str, known: list[str], hint: str = "") -> None:
        names = ", ".join(f"`{n}`" for n in sorted(known)) or "none"
        super().__init__(f"I don't know an app called `{shown(app)}`.{hint} Known apps: {names}.")


class BadVersion(DeployError):
    pass


class TagNotFound(DeployError):
    def __init__(self, repository: str, tag: str) -> None:
        super().__init__(
            f"There is no image tagged `{shown(tag)}` in the ECR repository `{repository}`. "
            "Push it first (or check the spelling); nothing was changed in AWS."
        )


class NotAllowed(DeployError):
    pass


class Conflict(DeployError):
    """The action no longer fits the deployment's state (a second click, or too late)."""


class AlreadyDeploying(DeployError):
    pass


class UpstreamError(DeployError):
    """AWS refused or failed; the message carries AWS's own error code and text."""


class ChatError(Exception):
    """The chat (Slack) did not take a call. ``code`` is its own error name, for logs and decisions."""

    def __init__(self, code: str, *, answered: bool) -> None:
        super().__init__(code)
        self.code = code
        # True: the chat answered with an error, so nothing happened. False: no answer came (a timeout,
        # a dropped connection), so it may have happened anyway.
        self.answered = answered
