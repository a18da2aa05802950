"""Implementations of the ``Broker`` protocol, one package each."""
