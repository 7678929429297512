"""Block Kit rendering and outbound Slack Web API calls."""
