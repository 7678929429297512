"""deploybot: ChatOps deployments to AWS ECS with each service's own deployment engine, driven from Slack."""

__version__ = "0.1.0"
