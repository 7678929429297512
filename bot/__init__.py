"""deploybot: ChatOps deployments to AWS ECS through CodeDeploy blue/green, driven from Slack."""

__version__ = "0.1.0"
