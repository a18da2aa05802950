"""``logway serve``: the gRPC and HTTP front doors over a ``Broker``."""
