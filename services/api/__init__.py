"""The Bookings API service: a Flask app over Postgres, served by gunicorn (``pmsync api``)."""

from services.api.app import create_app

__all__ = ["create_app"]
