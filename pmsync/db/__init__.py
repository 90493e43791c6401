"""Postgres access: connections and pools, migrations, and the queries the services share."""
