"""The fetcher service: a thin entry point over ``pmsync.fetching`` (see ``__main__``)."""
