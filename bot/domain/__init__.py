"""The pure core: records, the lifecycle state machine, policy, errors and ports. No I/O here."""
