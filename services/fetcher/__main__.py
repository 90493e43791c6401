"""``python -m services.fetcher [OPTIONS]``: the same as ``pmsync fetcher [OPTIONS]``, for
container entry points. Nothing else belongs here: the service lives in ``pmsync.fetching``."""

import sys

from pmsync.cli import main

if __name__ == "__main__":
    main(["fetcher", *sys.argv[1:]], prog_name="pmsync")
