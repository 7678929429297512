"""ECS's own deployments for the local AWS: service deployments with the rolling, blue/green, linear and
canary strategies, their lifecycle hooks, revisions and events, grafted onto moto's ECS (which has none)."""
