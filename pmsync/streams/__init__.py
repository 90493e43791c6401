"""Stream processing: the domain steps the validator and mapper call, the live config registry
they share, and the worker runtime that runs a step over a topic. Each worker's wiring (which
topic, which step) lives in ``services/``."""
