"""The native dev stack: Apache Kafka (KRaft, from Maven Central) and Postgres (OS packages).

For machines without a Docker engine. Everything lives under one folder (settings.stack_dir),
binds to 127.0.0.1 only, and ``up`` is idempotent; ``down`` stops only what ``up`` started.
"""
