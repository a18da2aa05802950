"""The storage engine: a durable, partitioned commit log on a local directory."""

from logway.log.log import Log
from logway.log.partition import Partition
from logway.log.topic_config import TopicConfig

__all__ = ["Log", "Partition", "TopicConfig"]
