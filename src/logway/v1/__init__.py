"""logway.v1: the wire contract of ``logway serve`` (generated from proto/logway/v1/log.proto)
and the helpers both ends share to speak it: conversions and error statuses."""
