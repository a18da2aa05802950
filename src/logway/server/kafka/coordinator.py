"""The classic consumer group coordinator's state machine (Kafka's ``ClassicGroup`` and
the classic half of its ``GroupMetadataManager``), in the listener's event loop.

A group goes Empty -> PreparingRebalance (members join; the first rebalance of an
empty group waits ``initial_rebalance_delay`` for more, as Kafka's
``group.initial.rebalance.delay.ms``) -> CompletingRebalance (every member has its
JoinGroup answered, the leader with everyone's metadata) -> Stable (the leader's
SyncGroup hands each member its assignment) and back to PreparingRebalance whenever a
member joins, changes its metadata, leaves or misses its session timeout. A rebalance
waits up to the group's rebalance timeout (the largest of its members') for every
known member to rejoin; those that do not are removed. Generations fence the rest:
a request of an old generation gets ILLEGAL_GENERATION, of a removed member
UNKNOWN_MEMBER_ID.

Every method runs in the event loop (handlers and timers), so no lock is needed;
timers are ``loop.call_later`` handles. Membership is kept in memory only: after a
restart members get UNKNOWN_MEMBER_ID and join again, as after a coordinator moves
in Kafka; committed offsets are the broker's and stay.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kio.schema.errors import ErrorCode

from logway.broker import Broker

log = logging.getLogger("logway.server.kafka")

# Kafka's defaults: group.min.session.timeout.ms, group.max.session.timeout.ms
MIN_SESSION_TIMEOUT_MS = 6_000
MAX_SESSION_TIMEOUT_MS = 1_800_000
# Kafka waits 3 s (group.initial.rebalance.delay.ms); one node for development and
# tests is better served by a shorter wait that still gathers members started together
INITIAL_REBALANCE_DELAY_S = 0.5
# a member that joined but never got its first answer is dropped after this (Kafka's
# classicGroupNewMemberJoinTimeoutMs): it cannot heartbeat, having no generation yet
NEW_MEMBER_JOIN_TIMEOUT_S = 300.0


class State(enum.Enum):
    """Kafka's names, as DescribeGroups and ListGroups report them."""

    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


Protocols = tuple[tuple[str, bytes], ...]  # (name, metadata), in the member's preference


@dataclass(frozen=True)
class JoinRequest:
    """A JoinGroup request, whatever its version."""

    group_id: str
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: Protocols
    require_known_member_id: bool  # v4+: a new member gets MEMBER_ID_REQUIRED first


@dataclass(frozen=True)
class JoinResult:
    error: ErrorCode
    member_id: str = ""
    generation: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = ""
    members: tuple[tuple[str, str | None, bytes], ...] = ()  # the leader's only


@dataclass(frozen=True)
class SyncResult:
    error: ErrorCode
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignment: bytes = b""


@dataclass(eq=False)
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout: float  # seconds
    rebalance_timeout: float
    protocols: Protocols
    assignment: bytes = b""
    joining: asyncio.Future[JoinResult] | None = None  # its JoinGroup, while parked
    syncing: asyncio.Future[SyncResult] | None = None  # its SyncGroup, while parked
    is_new: bool = True  # joined, not yet answered
    expiry: asyncio.TimerHandle | None = None

    def metadata(self, protocol: str | None) -> bytes:
        return next((m for name, m in self.protocols if name == protocol), b"")


@dataclass(eq=False)
class Group:
    group_id: str
    state: State = State.EMPTY
    previous_state: State = State.DEAD
    protocol_type: str | None = None
    protocol_name: str | None = None
    generation: int = 0
    leader: str | None = None
    members: dict[str, Member] = field(default_factory=dict)  # in joining order
    pending: dict[str, asyncio.TimerHandle] = field(default_factory=dict)  # ids handed out
    pending_sync: set[str] = field(default_factory=set)
    join_timer: asyncio.TimerHandle | None = None
    sync_timer: asyncio.TimerHandle | None = None
    new_member_added: bool = False
    held: bool = False  # reserved in the broker against its own consumers

    def transition(self, state: State) -> None:
        self.previous_state, self.state = self.state, state

    def all_joined(self) -> bool:
        return not self.pending and all(m.joining is not None for m in self.members.values())

    def rebalance_timeout(self) -> float:
        return max((m.rebalance_timeout for m in self.members.values()), default=0.0)

    def supports(self, protocol_type: str, protocols: Protocols) -> bool:
        """Kafka's supportsProtocols: the first member sets the protocol type; later
        ones must share it and support one protocol every member supports."""
        if not self.members:
            return bool(protocol_type) and bool(protocols)
        if protocol_type != self.protocol_type:
            return False
        return bool(self._common() & {name for name, _ in protocols})

    def _common(self) -> set[str]:
        sets = [{name for name, _ in m.protocols} for m in self.members.values()]
        return set.intersection(*sets) if sets else set()

    def select_protocol(self) -> str:
        """Of the protocols every member supports, each member votes for its first
        choice and the most votes win (Kafka's selectProtocol); a tie goes to the one
        the leader prefers."""
        common = self._common()
        votes: dict[str, int] = {}
        for m in self.members.values():
            choice = next(name for name, _ in m.protocols if name in common)
            votes[choice] = votes.get(choice, 0) + 1
        leader = self.members.get(self.leader or "")
        order = [name for name, _ in leader.protocols] if leader else sorted(votes)
        ranked = [name for name in order if name in votes] + sorted(set(votes) - set(order))
        return max(ranked, key=lambda name: votes[name])  # max keeps the first of a tie

    def join_result(self, member: Member) -> JoinResult:
        members: tuple[tuple[str, str | None, bytes], ...] = ()
        if member.member_id == self.leader:
            members = tuple(
                (m.member_id, m.group_instance_id, m.metadata(self.protocol_name))
                for m in self.members.values()
            )
        return JoinResult(
            ErrorCode.none,
            member.member_id,
            self.generation,
            self.protocol_type,
            self.protocol_name,
            self.leader or "",
            members,
        )


def _resolve(fut: asyncio.Future[Any] | None, result: Any) -> None:
    if fut is not None and not fut.done():
        fut.set_result(result)


class GroupCoordinator:
    """The groups of Kafka clients. ``broker`` holds a group against its own consumers
    (``hold_group``/``release_group``, where the backend has them) while the group has
    Kafka members."""

    def __init__(
        self,
        broker: Broker,
        *,
        initial_rebalance_delay: float = INITIAL_REBALANCE_DELAY_S,
        min_session_timeout_ms: int = MIN_SESSION_TIMEOUT_MS,
        max_session_timeout_ms: int = MAX_SESSION_TIMEOUT_MS,
    ):
        self.broker = broker
        self.initial_rebalance_delay = initial_rebalance_delay
        self.min_session_timeout_ms = min_session_timeout_ms
        self.max_session_timeout_ms = max_session_timeout_ms
        self.groups: dict[str, Group] = {}
        self._refused: set[str] = set()  # groups whose refusal was logged

    # --- requests -------------------------------------------------------------------

    def join(self, req: JoinRequest) -> asyncio.Future[JoinResult]:
        """The JoinGroup answer: at once for errors and MEMBER_ID_REQUIRED, else when
        the rebalance's join phase completes."""
        fut: asyncio.Future[JoinResult] = asyncio.get_running_loop().create_future()
        if not req.group_id or len(req.group_id) > 249 or "\0" in req.group_id:
            fut.set_result(JoinResult(ErrorCode.invalid_group_id, req.member_id))
            return fut
        if not self.min_session_timeout_ms <= req.session_timeout_ms <= self.max_session_timeout_ms:
            fut.set_result(JoinResult(ErrorCode.invalid_session_timeout, req.member_id))
            return fut
        group = self.groups.get(req.group_id)
        if group is None:
            if req.member_id:  # a member of a group that is gone (a restart): join anew
                fut.set_result(JoinResult(ErrorCode.unknown_member_id, req.member_id))
                return fut
            group = Group(req.group_id)
        if not self._hold(group):
            if req.group_id not in self._refused:  # once, not at every retry
                self._refused.add(req.group_id)
                log.warning(
                    "refused Kafka clients' JoinGroup for group %r: logway consumers are "
                    "its members, and the two cannot share a group",
                    req.group_id,
                )
            fut.set_result(JoinResult(ErrorCode.inconsistent_group_protocol, req.member_id))
            return fut
        self._refused.discard(req.group_id)
        self.groups.setdefault(group.group_id, group)
        try:
            if not req.member_id:
                self._join_new(group, req, fut)
            else:
                self._join_existing(group, req, fut)
        finally:
            self._settle(group)
        return fut

    def sync(
        self,
        group_id: str,
        generation: int,
        member_id: str,
        protocol_type: str | None,
        protocol_name: str | None,
        assignments: dict[str, bytes],
    ) -> asyncio.Future[SyncResult]:
        """The SyncGroup answer: a follower's waits for the leader's SyncGroup."""
        fut: asyncio.Future[SyncResult] = asyncio.get_running_loop().create_future()
        group = self.groups.get(group_id)
        if group is None or member_id not in group.members:
            fut.set_result(SyncResult(ErrorCode.unknown_member_id))
            return fut
        if generation != group.generation:
            fut.set_result(SyncResult(ErrorCode.illegal_generation))
            return fut
        if _differs(protocol_type, group.protocol_type) or _differs(
            protocol_name, group.protocol_name
        ):
            fut.set_result(SyncResult(ErrorCode.inconsistent_group_protocol))
            return fut
        member = group.members[member_id]
        if group.state is State.PREPARING_REBALANCE:
            fut.set_result(SyncResult(ErrorCode.rebalance_in_progress))
        elif group.state is State.COMPLETING_REBALANCE:
            _resolve(member.syncing, SyncResult(ErrorCode.rebalance_in_progress))
            member.syncing = fut
            self._synced(group, member_id)
            if member_id == group.leader:
                for m in group.members.values():
                    m.assignment = assignments.get(m.member_id, b"")
                self._propagate(group, ErrorCode.none)
                group.transition(State.STABLE)
                log.info(
                    "group %r is stable at generation %d with %d members",
                    group.group_id,
                    group.generation,
                    len(group.members),
                )
        else:  # Stable: what it was given
            self._synced(group, member_id)
            fut.set_result(
                SyncResult(
                    ErrorCode.none, group.protocol_type, group.protocol_name, member.assignment
                )
            )
        return fut

    def heartbeat(self, group_id: str, generation: int, member_id: str) -> ErrorCode:
        group = self.groups.get(group_id)
        if group is None or member_id not in group.members:
            return ErrorCode.unknown_member_id
        if generation != group.generation:
            return ErrorCode.illegal_generation
        member = group.members[member_id]
        self._expect_heartbeat(group, member, member.session_timeout)
        if group.state is State.PREPARING_REBALANCE:
            return ErrorCode.rebalance_in_progress
        return ErrorCode.none

    def leave(self, group_id: str, leaving: Sequence[tuple[str, str | None]]) -> list[ErrorCode]:
        """LeaveGroup: an error per (member id, group instance id); an empty member id
        names the members of that group instance id."""
        group = self.groups.get(group_id)
        if group is None:  # as Kafka: no member of it is known
            return [ErrorCode.unknown_member_id] * len(leaving)
        out = []
        left = False
        for member_id, instance_id in leaving:
            if not member_id:
                ids = [
                    m.member_id
                    for m in group.members.values()
                    if instance_id is not None and m.group_instance_id == instance_id
                ]
            elif member_id in group.pending or member_id in group.members:
                ids = [member_id]
            else:
                ids = []
            for mid in ids:
                log.debug("member %s left group %r", mid, group_id)
                self._remove(group, mid)
            out.append(ErrorCode.none if ids else ErrorCode.unknown_member_id)
            left = left or bool(ids)
        if left:
            if group.state in (State.STABLE, State.COMPLETING_REBALANCE):
                self._prepare_rebalance(group, "members left")
            elif group.state is State.PREPARING_REBALANCE:
                self._maybe_complete_join(group)
        self._settle(group)
        return out

    def check_commit(self, group_id: str, generation: int, member_id: str) -> ErrorCode:
        """Whether an OffsetCommit may be stored (Kafka's validateOffsetCommit): a member's
        commit must be of the current generation and not while its assignment is being
        handed out; a commit without a generation only to a group with no members."""
        group = self.groups.get(group_id)
        if group is None:
            return ErrorCode.none if generation < 0 else ErrorCode.illegal_generation
        if generation < 0 and not group.members:
            return ErrorCode.none
        if generation >= 0 or member_id:
            if member_id not in group.members:
                return ErrorCode.unknown_member_id
            if generation != group.generation:
                return ErrorCode.illegal_generation
        elif group.members:
            return ErrorCode.unknown_member_id
        if group.state is State.COMPLETING_REBALANCE:
            return ErrorCode.rebalance_in_progress
        return ErrorCode.none

    def delete(self, group_id: str) -> ErrorCode:
        """Forget an empty group (its committed offsets are the broker's)."""
        group = self.groups.get(group_id)
        if group is None:
            return ErrorCode.group_id_not_found
        if group.members or group.pending:
            return ErrorCode.non_empty_group
        self._cancel_timers(group)
        del self.groups[group_id]
        return ErrorCode.none

    # --- joining --------------------------------------------------------------------

    def _join_new(self, group: Group, req: JoinRequest, fut: asyncio.Future[JoinResult]) -> None:
        if not group.supports(req.protocol_type, req.protocols):
            fut.set_result(JoinResult(ErrorCode.inconsistent_group_protocol))
            return
        member_id = f"{req.client_id or 'member'}-{uuid.uuid4()}"
        if req.require_known_member_id and req.group_instance_id is None:
            # it joins again with this id; until then it counts as a member to wait for
            group.pending[member_id] = self._later(
                req.session_timeout_ms / 1000, self._expire_pending, group, member_id
            )
            fut.set_result(JoinResult(ErrorCode.member_id_required, member_id))
            return
        self._add_member(group, member_id, req, fut)

    def _join_existing(
        self, group: Group, req: JoinRequest, fut: asyncio.Future[JoinResult]
    ) -> None:
        member_id = req.member_id
        if not group.supports(req.protocol_type, req.protocols):
            fut.set_result(JoinResult(ErrorCode.inconsistent_group_protocol, member_id))
        elif member_id in group.pending:
            self._add_member(group, member_id, req, fut)
        elif member_id not in group.members:
            fut.set_result(JoinResult(ErrorCode.unknown_member_id, member_id))
        else:
            member = group.members[member_id]
            same = member.protocols == req.protocols
            if group.state is State.PREPARING_REBALANCE:
                self._update_member(group, member, req, fut)
                self._maybe_complete_join(group)
            elif group.state is State.COMPLETING_REBALANCE and same:
                fut.set_result(group.join_result(member))  # it missed the answer: again
            elif group.state is State.STABLE and same and member_id != group.leader:
                fut.set_result(group.join_result(member))  # nothing changed: no rebalance
            elif group.state in (State.COMPLETING_REBALANCE, State.STABLE):
                # new metadata, or the leader asking (its topics' partitions may have changed)
                self._update_member(group, member, req, fut)
                self._prepare_rebalance(group, f"member {member_id} joined again")
            else:
                fut.set_result(JoinResult(ErrorCode.unknown_member_id, member_id))

    def _add_member(
        self, group: Group, member_id: str, req: JoinRequest, fut: asyncio.Future[JoinResult]
    ) -> None:
        member = Member(
            member_id,
            req.group_instance_id,
            req.client_id,
            req.client_host,
            req.session_timeout_ms / 1000,
            req.rebalance_timeout_ms / 1000,
            req.protocols,
            joining=fut,
        )
        if group.state is State.PREPARING_REBALANCE and group.previous_state is State.EMPTY:
            group.new_member_added = True  # the first rebalance waits a little longer
        if not group.members:
            group.protocol_type = req.protocol_type
        if group.leader is None:
            group.leader = member_id
        group.members[member_id] = member
        pending = group.pending.pop(member_id, None)
        if pending is not None:
            pending.cancel()
        self._expect_heartbeat(group, member, NEW_MEMBER_JOIN_TIMEOUT_S)
        log.debug("member %s joins group %r", member_id, group.group_id)
        if group.state in (State.EMPTY, State.STABLE, State.COMPLETING_REBALANCE):
            self._prepare_rebalance(group, f"member {member_id} joined")
        else:
            self._maybe_complete_join(group)

    def _update_member(
        self, group: Group, member: Member, req: JoinRequest, fut: asyncio.Future[JoinResult]
    ) -> None:
        member.protocols = req.protocols
        member.session_timeout = req.session_timeout_ms / 1000
        member.rebalance_timeout = req.rebalance_timeout_ms / 1000
        # a JoinGroup it sent before (on a connection it gave up on) is answered too
        _resolve(member.joining, JoinResult(ErrorCode.rebalance_in_progress, member.member_id))
        member.joining = fut

    # --- rebalancing ----------------------------------------------------------------

    def _prepare_rebalance(self, group: Group, reason: str) -> None:
        if group.state is State.COMPLETING_REBALANCE:  # those waiting in SyncGroup join again
            for m in group.members.values():
                m.assignment = b""
            self._propagate(group, ErrorCode.rebalance_in_progress)
        self._cancel(group.sync_timer)
        group.sync_timer = None
        group.pending_sync.clear()
        self._cancel(group.join_timer)
        initial = group.state is State.EMPTY
        group.transition(State.PREPARING_REBALANCE)
        log.info(
            "group %r rebalances after generation %d: %s", group.group_id, group.generation, reason
        )
        if initial:
            delay = self.initial_rebalance_delay
            remaining = max(group.rebalance_timeout() - delay, 0.0)
            group.join_timer = self._later(delay, self._initial_delay_over, group, delay, remaining)
        elif group.all_joined():
            self._complete_join(group)
        else:
            group.join_timer = self._later(group.rebalance_timeout(), self._complete_join, group)

    def _initial_delay_over(self, group: Group, delay: float, remaining: float) -> None:
        if self.groups.get(group.group_id) is not group:
            return
        if group.new_member_added and remaining > 0:
            group.new_member_added = False
            wait = min(self.initial_rebalance_delay, remaining)
            group.join_timer = self._later(
                wait, self._initial_delay_over, group, wait, max(remaining - delay, 0.0)
            )
            return
        self._complete_join(group)
        self._settle(group)

    def _maybe_complete_join(self, group: Group) -> None:
        if (
            group.state is State.PREPARING_REBALANCE
            and group.previous_state is not State.EMPTY  # a first rebalance waits its delay
            and group.all_joined()
        ):
            self._complete_join(group)

    def _complete_join(self, group: Group) -> None:
        """End the join phase: members that did not join again are removed, the rest
        get the next generation (the leader with everyone's metadata)."""
        if self.groups.get(group.group_id) is not group:
            return
        self._cancel(group.join_timer)
        group.join_timer = None
        late = [m.member_id for m in group.members.values() if m.joining is None]
        for member_id in late:
            log.info(
                "member %s of group %r did not join again within the rebalance timeout: removed",
                member_id,
                group.group_id,
            )
            self._remove(group, member_id)
        group.generation += 1
        group.pending_sync.clear()
        if not group.members:
            group.protocol_name = None
            group.transition(State.EMPTY)
            log.info("group %r is empty at generation %d", group.group_id, group.generation)
            self._settle(group)
            return
        group.protocol_name = group.select_protocol()
        group.transition(State.COMPLETING_REBALANCE)
        for m in list(group.members.values()):
            fut, m.joining = m.joining, None
            _resolve(fut, group.join_result(m))
            m.is_new = False
            self._expect_heartbeat(group, m, m.session_timeout)
            group.pending_sync.add(m.member_id)
        group.sync_timer = self._later(
            group.rebalance_timeout(), self._sync_overdue, group, group.generation
        )

    def _synced(self, group: Group, member_id: str) -> None:
        group.pending_sync.discard(member_id)
        if not group.pending_sync:
            self._cancel(group.sync_timer)
            group.sync_timer = None

    def _sync_overdue(self, group: Group, generation: int) -> None:
        """Members that did not send SyncGroup within the rebalance timeout are removed."""
        if self.groups.get(group.group_id) is not group or group.generation != generation:
            return
        group.sync_timer = None
        if group.state not in (State.COMPLETING_REBALANCE, State.STABLE):
            return
        if group.pending_sync:
            late = sorted(group.pending_sync)
            for member_id in late:
                self._remove(group, member_id)
            self._prepare_rebalance(group, f"no SyncGroup from {', '.join(late)}")
        self._settle(group)

    def _propagate(self, group: Group, error: ErrorCode) -> None:
        """Answer every parked SyncGroup with its assignment (or ``error``)."""
        ok = error == ErrorCode.none
        for m in group.members.values():
            fut, m.syncing = m.syncing, None
            if fut is None:
                continue
            _resolve(
                fut,
                SyncResult(
                    error,
                    group.protocol_type if ok else None,
                    group.protocol_name if ok else None,
                    m.assignment if ok else b"",
                ),
            )
            self._expect_heartbeat(group, m, m.session_timeout)

    # --- members and timers ---------------------------------------------------------

    def _remove(self, group: Group, member_id: str) -> None:
        pending = group.pending.pop(member_id, None)
        if pending is not None:
            pending.cancel()
        member = group.members.pop(member_id, None)
        group.pending_sync.discard(member_id)
        if member is None:
            return
        self._cancel(member.expiry)
        # a parked request of a removed member is answered: it joins again if still there
        _resolve(member.joining, JoinResult(ErrorCode.unknown_member_id))
        _resolve(member.syncing, SyncResult(ErrorCode.unknown_member_id))
        member.joining = member.syncing = None
        if group.leader == member_id:
            group.leader = next(iter(group.members), None)

    def _expect_heartbeat(self, group: Group, member: Member, timeout: float) -> None:
        self._cancel(member.expiry)
        member.expiry = self._later(timeout, self._expire_member, group, member.member_id)

    def _expire_member(self, group: Group, member_id: str) -> None:
        member = group.members.get(member_id)
        if self.groups.get(group.group_id) is not group or member is None:
            return
        member.expiry = None
        # a member parked in JoinGroup or SyncGroup is alive (its timer starts again when
        # answered), unless it is new and never got an answer
        if not member.is_new and (member.joining is not None or member.syncing is not None):
            return
        log.info(
            "member %s of group %r sent no heartbeat within its session timeout: removed",
            member_id,
            group.group_id,
        )
        self._remove(group, member_id)
        if group.state in (State.STABLE, State.COMPLETING_REBALANCE):
            self._prepare_rebalance(group, f"member {member_id} timed out")
        elif group.state is State.PREPARING_REBALANCE and group.all_joined():
            self._complete_join(group)
        self._settle(group)

    def _expire_pending(self, group: Group, member_id: str) -> None:
        """A member id handed out by MEMBER_ID_REQUIRED that was never used."""
        if self.groups.get(group.group_id) is not group:
            return
        if group.pending.pop(member_id, None) is None:
            return
        if group.state is State.PREPARING_REBALANCE and group.all_joined():
            self._complete_join(group)
        self._settle(group)

    def _later(self, delay: float, fn: Callable[..., None], *args: Any) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(max(delay, 0.0), fn, *args)

    @staticmethod
    def _cancel(handle: asyncio.TimerHandle | None) -> None:
        if handle is not None:
            handle.cancel()

    def _cancel_timers(self, group: Group) -> None:
        self._cancel(group.join_timer)
        self._cancel(group.sync_timer)
        for handle in group.pending.values():
            handle.cancel()
        for m in group.members.values():
            self._cancel(m.expiry)

    # --- sharing the group name with the broker's own consumers ---------------------

    def _hold(self, group: Group) -> bool:
        """Reserve the group in the broker before its first Kafka member."""
        if group.held or group.members or group.pending:
            return True
        hold = getattr(self.broker, "hold_group", None)
        if hold is None:  # a backend whose consumers are coordinated elsewhere
            return True
        group.held = bool(hold(group.group_id))
        return group.held

    def _settle(self, group: Group) -> None:
        """After a change: give the group back to the broker once no Kafka client is a
        member, and forget a group that never had a generation."""
        if group.members or group.pending:
            return
        if group.held:
            release = getattr(self.broker, "release_group", None)
            if release is not None:
                release(group.group_id)
            group.held = False
        if (
            group.generation == 0
            and group.state is State.EMPTY
            and self.groups.get(group.group_id) is group
        ):
            self._cancel_timers(group)
            del self.groups[group.group_id]


def _differs(asked: str | None, actual: str | None) -> bool:
    return asked is not None and actual is not None and asked != actual
