"""Postgres from the OS packages: a cluster of the project's own under the stack folder.

The superuser is reached only through the cluster's private Unix socket; the project's
roles (owner and API) log in over 127.0.0.1 with the passwords in the settings' DSNs.
"""

from __future__ import annotations

import os
import pwd
import time
from pathlib import Path
from urllib.parse import urlsplit

from pmsync.settings import Settings
from pmsync.stack.process import StackError, apt_install, port_open, run, wait_until

_CLUSTER_USER = "postgres"


def _bin_dir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return candidates[-1].parent if candidates else None


def _as_root() -> bool:
    return os.geteuid() == 0


class PostgresCluster:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.stack_dir / "postgres"
        self.data = self.home / "data"
        self.socket_dir = self.home / "run"
        self.log_file = self.home / "postgres.log"
        self.user = _CLUSTER_USER if _as_root() else None

    def _bin(self, name: str) -> str:
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise StackError("Postgres server binaries not found under /usr/lib/postgresql")
        return str(bin_dir / name)

    def install(self) -> bool:
        if _bin_dir() is not None:
            return False
        apt_install("postgresql")
        return True

    def _prepare_dirs(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self.user:
            # The server runs as `postgres`: it must reach and own its folder.
            entry = pwd.getpwnam(self.user)
            for path in (self.home, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            _make_traversable(self.home.parent)

    def running(self) -> bool:
        if not (self.data / "PG_VERSION").exists():
            return False
        result = run([self._bin("pg_ctl"), "-D", str(self.data), "status"], user=self.user, check=False)
        return result.returncode == 0

    def up(self) -> bool:
        self.install()
        self._prepare_dirs()
        if self.running():
            self._ensure_roles()
            return False
        if port_open(self.settings.postgres_port):
            raise StackError(f"port {self.settings.postgres_port} is taken by a process pmsync did not "
                             "start; stop it or set PMSYNC_POSTGRES_PORT")
        if not (self.data / "PG_VERSION").exists():
            run([self._bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                 "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"], user=self.user)
        options = (f"-p {self.settings.postgres_port} -c listen_addresses=127.0.0.1 "
                   f"-k {self.socket_dir} -c max_connections=200 -c shared_buffers=256MB "
                   f"-c synchronous_commit=on -c fsync=on")
        run([self._bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log_file), "-o", options,
             "-w", "-t", "60", "start"], user=self.user)
        wait_until(lambda: port_open(self.settings.postgres_port), 30, "Postgres to listen")
        self._ensure_roles()
        return True

    def psql(self, sql: str, database: str = "postgres") -> str:
        cmd = ["psql", "-h", str(self.socket_dir), "-p", str(self.settings.postgres_port),
               "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-tAc", sql]
        for attempt in range(5):
            try:
                return run(cmd, user=self.user).stdout.strip()
            except StackError as exc:
                # Two `stack up`s at once (e.g. two test sessions) can collide on ALTER ROLE.
                if "tuple concurrently updated" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def _ensure_roles(self) -> None:
        """Create or update the owner and API roles and the database from the settings' DSNs."""
        owner = urlsplit(self.settings.database_url)
        api = urlsplit(self.settings.api_database_url)
        database = owner.path.lstrip("/")
        for role, password, extra in ((owner.username, owner.password, "CREATEDB"),
                                      (api.username, api.password, "NOBYPASSRLS")):
            exists = self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = {_literal(role)}")
            verb = "ALTER" if exists else "CREATE"
            self.psql(f"{verb} ROLE {_ident(role)} LOGIN {extra} PASSWORD {_literal(password or '')}")
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = {_literal(database)}"):
            self.psql(f"CREATE DATABASE {_ident(database)} OWNER {_ident(owner.username)}")

    def down(self) -> bool:
        if not self.running():
            return False
        run([self._bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"], user=self.user)
        return True

    def status(self) -> str:
        if not self.running():
            return "stopped"
        return f"running (127.0.0.1:{self.settings.postgres_port}, data {self.data})"


def _ident(name: str | None) -> str:
    if not name:
        raise StackError("a DSN in the settings has no user name")
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str | None) -> str:
    return "'" + (value or "").replace("'", "''") + "'"


def _make_traversable(path: Path) -> None:
    """Give others execute permission on each root-owned folder above the stack, so the
    ``postgres`` user can reach its data folder (a fresh clone may live in a 0700 temp dir)."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            os.chmod(folder, mode | 0o001)
