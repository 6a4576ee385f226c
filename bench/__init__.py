"""thpwatch benchmarks: what the agent costs the host. Run `.venv/bin/python -m bench`."""
