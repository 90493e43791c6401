"""Thin service entry points over the ``pmsync`` domain package."""
