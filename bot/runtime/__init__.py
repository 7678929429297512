"""Runtime plumbing: settings and the catalog file, logging, supervised tasks, the `deploybot` command."""
