"""kubelite: a Kubernetes-compatible container orchestrator in Python."""

__version__ = "0.1.0"
