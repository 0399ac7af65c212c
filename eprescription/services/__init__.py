"""The use cases of the service: each is one transaction and the only place that commits."""
