"""The topics of docs/design.md with their partition counts and configs, and their creation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from pmsync.settings import Settings
from pmsync.stack.process import wait_until


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    t, n = settings.topics, settings.partitions
    return [
        TopicSpec(t.raw, n),
        TopicSpec(t.validated, n),
        TopicSpec(t.bookings, n),
        # Rejects are kept long enough for a person to fix a config and replay them.
        TopicSpec(t.dlq, n, {"retention.ms": str(settings.dlq_retention_ms)}),
        # One record per pms_type:version; compaction keeps the latest body of each.
        TopicSpec(t.configs, 1, {"cleanup.policy": "compact"}),
    ]


def create_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> dict[str, str]:
    """Create missing topics; existing ones are left as they are. Returns name → outcome."""
    specs = specs if specs is not None else topic_specs(settings)
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="pmsync-admin")
    try:
        existing = set(admin.list_topics())
        outcome = {s.name: "exists" for s in specs if s.name in existing}
        missing = [s for s in specs if s.name not in existing]
        for spec in missing:
            try:
                admin.create_topics([NewTopic(spec.name, spec.partitions, 1, topic_configs=spec.config)])
                outcome[spec.name] = f"created ({spec.partitions} partitions)"
            except TopicAlreadyExistsError:
                outcome[spec.name] = "exists"
        if missing:
            # A new topic is usable once each partition has a leader; a client that asks before
            # logs "not found in cluster metadata" errors (harmless and retried, but alarming).
            wait_until(lambda: _have_leaders(admin, [s.name for s in missing]), timeout=30,
                       what="leaders for the new topics' partitions", interval=0.1)
        return outcome
    finally:
        admin.close()


def delete_topics(settings: Settings, also: Iterable[str] = ()) -> None:
    """Delete the settings' topics (and ``also``) that exist: for throwaway topic sets (tests,
    benchmarks). A broker left with thousands of dead partitions spends CPU on them on every
    request."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="pmsync-admin")
    try:
        names = {spec.name for spec in topic_specs(settings)} | set(also)
        existing = names & set(admin.list_topics())
        if existing:
            admin.delete_topics(sorted(existing))
    finally:
        admin.close()


def _have_leaders(admin: KafkaAdminClient, names: list[str]) -> bool:
    try:
        described = admin.describe_topics(names)
    except KafkaError:
        return False
    return len(described) == len(names) and all(
        topic["error_code"] == 0 and topic["partitions"]
        and all(p["error_code"] == 0 and p["leader_id"] >= 0 for p in topic["partitions"])
        for topic in described)
