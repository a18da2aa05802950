"""Copy topics from one broker to another, on any two backends (``logway mirror``).

Records keep their partition, key, value, headers and timestamp. The mirror's
position is a consumer group on the SOURCE, one per destination by default
(``default_group``): each batch is fetched from the group's committed offset,
produced to the destination, and committed on the source only once the destination
has confirmed it. So a rerun copies only what is new, and a crash between the
produce and the commit repeats at most the batch in flight on the next run (at
least once, never a lost record), as Kafka's MirrorMaker does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from logway.broker import DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS, Broker
from logway.errors import (
    InvalidArgumentError,
    LogwayError,
    OffsetOutOfRangeError,
    TopicExistsError,
    UnknownTopicError,
)
from logway.names import validate_group
from logway.records import Message, Record, TopicInfo, TopicPartition
from logway.schemas.registry import SCHEMAS_TOPIC
from logway.topic_settings import portable_settings

log = logging.getLogger("logway.mirror")

GROUP_PREFIX = "logway-mirror"
# the one group every mirror used before groups were per destination: a source that has
# it (and not the destination's own group) may hold a position meant for this destination
LEGACY_GROUP = GROUP_PREFIX
DEFAULT_POLL_INTERVAL = 0.5  # seconds between looks for new records when following
# ports a URL may leave out: logway serve's gRPC port, Kafka's
_DEFAULT_PORTS = {"logway": 7070, "kafka": 9092}
# an embedded log keeps a group in a file named by the group, %-escaped: room for that
_MAX_GROUP_ESCAPED = 200


def destination_name(url: str) -> str:
    """What names the destination ``url`` points at, the same however it is spelled:
    the scheme in lower case and a directory's absolute path (symbolic links resolved),
    or the hosts in lower case with their ports (Kafka's sorted). User names, passwords
    and query options, where credentials go, are left out."""
    scheme, _, rest = url.partition(":")
    scheme = scheme.lower()
    if scheme == "memory":
        return "memory:"
    if scheme == "file":
        path = rest[2:] if rest.startswith("//") else rest
        return f"file:{os.path.realpath(path or '.')}"
    rest = rest[2:] if rest.startswith("//") else rest
    location = rest.split("?", 1)[0].split("#", 1)[0]
    if scheme not in _DEFAULT_PORTS:
        host, slash, path = location.partition("/")
        return f"{scheme}://{host.rpartition('@')[2].lower()}{slash}{path.rstrip('/')}"
    hosts = {
        _with_port(host.rpartition("@")[2].strip().lower().rstrip("/"), _DEFAULT_PORTS[scheme])
        for host in location.split(",")
    }
    hosts.discard("")
    return f"{scheme}://{','.join(sorted(hosts))}"


def _with_port(host: str, port: int) -> str:
    if not host or ":" in host.rsplit("]", 1)[-1]:
        return host
    return f"{host}:{port}"


def default_group(dest_url: str) -> str:
    """The consumer group a mirror into ``dest_url`` keeps its position in on the source
    unless told another: ``logway-mirror@`` and the destination's name
    (``destination_name``), so each destination gets every record and every spelling of
    one destination continues the same position. A name too long or odd for a group
    (unprintable characters) is cut to its printable end and a digest of the whole."""
    name = destination_name(dest_url)
    group = f"{GROUP_PREFIX}@{name}"
    if name.isprintable() and len(quote(group, safe="")) <= _MAX_GROUP_ESCAPED:
        return group
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    tail = "".join(c for c in name[-40:] if c.isascii() and c.isprintable())
    return f"{GROUP_PREFIX}@{name.partition(':')[0]}:...{tail}~{digest}"


@dataclass
class TopicReport:
    """What the mirror did for one topic."""

    topic: str
    partitions: int
    copied: int = 0
    created: bool = False
    # partition -> records that retention deleted from the source before they were copied
    skipped: dict[int, int] = field(default_factory=dict)


@dataclass
class MirrorResult:
    """Per topic, what was copied; ``stopped`` when ``stop`` ended the run early."""

    group: str
    topics: dict[str, TopicReport] = field(default_factory=dict)
    stopped: bool = False

    @property
    def copied(self) -> int:
        return sum(t.copied for t in self.topics.values())

    @property
    def skipped(self) -> int:
        return sum(sum(t.skipped.values()) for t in self.topics.values())


def mirror(
    source: Broker,
    dest: Broker,
    topics: Sequence[str] | None = None,
    group: str | None = None,
    *,
    follow: bool = False,
    stop: threading.Event | None = None,
    max_records: int = DEFAULT_MAX_RECORDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    on_batch: Callable[[TopicPartition, int], None] | None = None,
) -> MirrorResult:
    """Copy ``topics`` (default: all of the source's, except internal ``__`` ones but
    the schema registry's, ``__logway_schemas``, which records' schema ids name) from
    ``source`` to ``dest``, from ``group``'s committed offsets on the source (by
    default ``default_group(dest.url)``, the destination's own).

    Missing destination topics are created with the source's partition count and
    portable settings (``PORTABLE_SETTINGS``); an existing one with fewer partitions
    is refused before anything is copied or created. Without ``follow`` the copy
    ends at the end offsets read at the start; with it, it goes on copying new
    records until ``stop`` is set. Either way ``stop`` ends the run after the batch
    in flight is produced and committed. ``on_batch(partition, count)`` is called
    after each committed batch."""
    derived = group is None
    group = default_group(dest.url) if group is None else group
    plan = _plan(source, dest, topics, group, max_records, max_bytes)
    if derived:
        _warn_legacy(source, group, plan)
    log.info("position kept in group %r on the source", group)
    result = MirrorResult(group, {t: TopicReport(t, info.partitions) for t, info in plan.infos})
    # from here on, input is known to be good: create, then copy
    for name, info in plan.infos:
        result.topics[name].created = _create(dest, info)
    # the group starts where it is or, where retention moved the start past it, at the
    # start (those records are gone either way); committed for every partition, so that
    # a later run can tell records deleted before they were copied
    first: dict[TopicPartition, int] = {}
    for tp, (position, skipped, committed) in plan.positions.items():
        if skipped:
            result.topics[tp.topic].skipped[tp.partition] = skipped
        if skipped or not committed:
            first[tp] = position
    if first:
        source.commit(group, first)
    copier = _Copier(source, dest, group, result, max_records, max_bytes, on_batch)
    stop = stop if stop is not None else threading.Event()
    positions = {tp: position for tp, (position, _, _) in plan.positions.items()}
    ends = None if follow else plan.ends
    idle_logged = False
    while positions and not stop.is_set():
        moved = False
        for tp in list(positions):
            if stop.is_set():
                break
            end = None if ends is None else ends[tp]
            before = positions[tp]
            positions[tp] = copier.copy_batch(tp, before, end)
            moved = moved or positions[tp] != before
            if end is not None and (positions[tp] >= end or positions[tp] == before):
                del positions[tp]  # caught up with the end read at the start
        if follow and not moved:
            if not idle_logged:
                log.info("caught up; following new records of %s", ", ".join(result.topics))
                idle_logged = True
            stop.wait(poll_interval)
    result.stopped = stop.is_set() and bool(positions)
    return result


@dataclass
class _Plan:
    infos: list[tuple[str, TopicInfo]]
    # where to start, records skipped (deleted before they were copied), and whether
    # the group had committed a position
    positions: dict[TopicPartition, tuple[int, int, bool]]
    ends: dict[TopicPartition, int]


def _plan(
    source: Broker,
    dest: Broker,
    topics: Sequence[str] | None,
    group: str,
    max_records: int,
    max_bytes: int,
) -> _Plan:
    """Check everything the copy needs, changing nothing; raise on bad input."""
    if source is dest:
        raise InvalidArgumentError("the source and the destination are the same broker")
    validate_group(group)
    if max_records < 1 or max_bytes < 1:
        raise InvalidArgumentError("max_records and max_bytes must be at least 1")
    available = source.list_topics()
    if topics is None:
        # the schema registry's topic goes too: the copied records name its ids
        names = [t for t in available if not t.startswith("__") or t == SCHEMAS_TOPIC]
    else:
        if isinstance(topics, str):
            raise InvalidArgumentError(f"topics must be a list of names, not the string {topics!r}")
        names = list(dict.fromkeys(topics))
        if not names:
            raise InvalidArgumentError("no topics to mirror; name at least one, or pass None")
        unknown = [t for t in names if t not in available]
        if unknown:
            raise UnknownTopicError(
                f"the source {source.url} has no topic {', '.join(map(repr, unknown))}; "
                f"its topics: {', '.join(available) or '(none)'}"
            )
    existing = set(dest.list_topics())
    infos: list[tuple[str, TopicInfo]] = []
    problems: list[str] = []
    for name in names:
        info = source.describe_topic(name)
        infos.append((name, info))
        if name in existing:
            have = dest.describe_topic(name).partitions
            if have < info.partitions:
                problems.append(
                    f"topic {name!r} has {info.partitions} partitions on the source but "
                    f"{have} on the destination"
                )
    if problems:
        raise InvalidArgumentError(
            "cannot mirror: " + "; ".join(problems) + ". Records keep their partition "
            "numbers, so the destination needs at least as many partitions; add partitions "
            "there or delete the topic so the mirror creates it. Nothing was copied."
        )
    positions: dict[TopicPartition, tuple[int, int, bool]] = {}
    ends: dict[TopicPartition, int] = {}
    for name, _info in infos:
        committed = source.committed(group, name)
        starts, end_offsets = source.start_offsets(name), source.end_offsets(name)
        for p, end in sorted(end_offsets.items()):
            tp = TopicPartition(name, p)
            start = starts[p]
            position = committed.get(tp, start)
            if position > end:
                raise InvalidArgumentError(
                    f"group {group!r} has committed offset {position} for {name}/{p}, beyond "
                    f"its end offset {end} on the source (was the topic recreated?); move it "
                    f"with: logway groups reset {group} --topic {name} --to earliest"
                )
            skipped = 0
            if position < start:
                skipped = start - position
                _warn_deleted(tp, position, start)
                position = start
            positions[tp] = (position, skipped, tp in committed)
            ends[tp] = end
    return _Plan(infos, positions, ends)


def _warn_legacy(source: Broker, group: str, plan: _Plan) -> None:
    """Say so when the destination's own group has no position yet but the one group
    every mirror shared before has one on these topics: it may be this destination's,
    and then what it had copied is copied again."""
    if any(committed for _, _, committed in plan.positions.values()):
        return
    if any(source.committed(LEGACY_GROUP, name) for name, _ in plan.infos):
        log.warning(
            "copying from the start into group %r; the source also has a position in "
            "group %r, which every mirror shared before each destination had its own: if "
            "it is this destination's, use --group %s (group=%r) to go on from it",
            group,
            LEGACY_GROUP,
            LEGACY_GROUP,
            LEGACY_GROUP,
        )


def _warn_deleted(tp: TopicPartition, position: int, start: int) -> None:
    log.warning(
        "%s/%d: offsets %d to %d were deleted by retention on the source before they were "
        "copied; continuing from %d",
        tp.topic,
        tp.partition,
        position,
        start - 1,
        start,
    )


def _create(dest: Broker, info: TopicInfo) -> bool:
    """Create the destination topic unless it exists; True if this call created it."""
    try:
        dest.create_topic(info.name, info.partitions, **portable_settings(info.config))
    except TopicExistsError:  # created meanwhile by someone else: check it again
        have = dest.describe_topic(info.name).partitions
        if have < info.partitions:
            raise InvalidArgumentError(
                f"topic {info.name!r} appeared on the destination with {have} partitions; the "
                f"source has {info.partitions}"
            ) from None
        return False
    return True


class _Copier:
    """Moves one batch of one partition: fetch, produce, confirm, commit."""

    def __init__(
        self,
        source: Broker,
        dest: Broker,
        group: str,
        result: MirrorResult,
        max_records: int,
        max_bytes: int,
        on_batch: Callable[[TopicPartition, int], None] | None,
    ) -> None:
        self.source = source
        self.dest = dest
        self.group = group
        self.result = result
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.on_batch = on_batch

    def copy_batch(self, tp: TopicPartition, position: int, end: int | None) -> int:
        """Copy one batch of records from ``position`` (up to ``end``); returns the new
        position (unchanged when there was nothing to copy)."""
        limit = self.max_records if end is None else min(self.max_records, end - position)
        if limit <= 0:
            return position
        try:
            fetched = self.source.fetch(tp.topic, tp.partition, position, limit, self.max_bytes)
        except OffsetOutOfRangeError:
            start = self.source.start_offsets(tp.topic)[tp.partition]
            if position >= start:
                raise
            _warn_deleted(tp, position, start)  # by retention, while the mirror ran
            skipped = self.result.topics[tp.topic].skipped
            skipped[tp.partition] = skipped.get(tp.partition, 0) + start - position
            self.source.commit(self.group, {tp: start})
            return start
        batch = [r for r in fetched if r.offset >= position and (end is None or r.offset < end)]
        if not batch:
            return position
        self._produce(tp, batch)
        after = batch[-1].offset + 1
        self.source.commit(self.group, {tp: after})  # only after the destination confirmed
        self.result.topics[tp.topic].copied += len(batch)
        log.debug(
            "%s/%d: copied %d record(s), now at %d", tp.topic, tp.partition, len(batch), after
        )
        if self.on_batch is not None:
            self.on_batch(tp, len(batch))
        return after

    def _produce(self, tp: TopicPartition, batch: list[Record]) -> None:
        messages = [Message(r.value, r.key, r.headers, r.partition, r.timestamp) for r in batch]
        produced = self.dest.produce_many(tp.topic, messages, partition=tp.partition)
        if len(produced) != len(batch) or any(m.partition != tp.partition for m in produced):
            raise LogwayError(
                f"the destination confirmed {len(produced)} of {len(batch)} records for "
                f"{tp.topic}/{tp.partition}, or on other partitions; nothing was committed for "
                "them, so the next run copies them again"
            )
