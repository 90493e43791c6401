"""The topics of DESIGN.md with their partition counts and configs, and their creation."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from pmsync.settings import Settings


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
        return outcome
    finally:
        admin.close()
