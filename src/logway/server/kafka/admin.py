"""Kafka's admin APIs (placeholder until they land)."""
