"""The fetcher's domain code: from a config's ``source`` block to Kafka messages.

``templates`` (``${…}`` substitution), ``source`` (the block, typed), ``pagination``, ``delta``
(cursor formatting), ``retry`` and ``breaker`` (how failures are handled), ``client`` (one page
over HTTP), ``checkpoints`` (``sync_checkpoints``), ``configs`` (compiled configs from the
database), ``sync`` (one hotel's sync) and ``runner`` (the service: schedules, concurrency).
Nothing here may log, store or publish a credential.
"""
