"""The edges where requests arrive: thin Bolt listeners (commands, buttons), Slack's HTTP endpoint and the
CI hand-off. Each parses its payload into a model once, checks it, acks, and hands the work to a use case
in a supervised task."""
