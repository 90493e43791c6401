"""The loader service: consumes the bookings topic into Postgres (see ``pmsync.loader``)."""
