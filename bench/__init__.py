"""deploybot's benchmarks (`make bench`): ack latency, status lag, scale, Slack economy, footprint.

Each starts the sandbox in its own process and `deploybot serve` in another, measures, and returns
its figures; `python -m bench` prints them as a table and writes docs/benchmarks.md.
"""
