"""The use cases: one class per thing people (and the watcher) do with deployments, each composed in its
constructor with the ports and helpers it needs (``bot.app`` builds them)."""
