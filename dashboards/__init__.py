"""Grafana dashboards and Prometheus rules for thpwatch, as code (see dashboards/README.md)."""
