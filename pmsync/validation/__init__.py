"""Validation: the raw record against its JSON Schema, the mapped booking against the config's
``validation_rules``, then sanitization. Compiled once per config version; never re-parses a
rule, regex or schema per record."""
