"""The ``logway`` command line."""
