"""ECS's own deployments: services whose deployment controller is ECS, deployed with the strategy their
deployment configuration names (a rolling update, or blue/green, linear and canary with lifecycle hooks).
The only code that knows ECS's service deployment statuses, lifecycle stages and hooks."""
