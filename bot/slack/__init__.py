"""The Slack adapter, the only code that imports slack_sdk: the Chat port on the Web API (``chat``), pacing
below Slack's limits (``pacing``) and the v0 signature check (``verify``)."""
