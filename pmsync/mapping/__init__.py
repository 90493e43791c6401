"""Mapping building blocks: compiled JSONPath look-ups and the closed set of transforms.

The config compiler (``pmsync.config.compile``) binds these once per config version; nothing
here parses a path or reads a config per record, and nothing here executes config text as code.
"""
