"""The fault campaign: three deploybot replicas on the sandbox, people deploying through Slack, faults at
random from a printed seed, and invariants checked over the whole history (`make soak`, `python -m soak`)."""
