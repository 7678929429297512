"""The embedded sandbox: a local Slack workspace and a local AWS for demos, tests and newcomers."""
