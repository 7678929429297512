"""The local Slack workspace: Web API, Socket Mode and HTTP delivery, response_url, web page."""
