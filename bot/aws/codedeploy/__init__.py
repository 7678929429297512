"""The CodeDeploy blue/green engine: the only code that knows CodeDeploy's statuses, lifecycle events,
wait types and the description that marks a deployment as deploybot's."""
