"""Each new snapshot's chart results computed once, before the viewers ask, and never twice at a time.

The result cache (snapshot_cache.py) answers a chart from the cache until the next commit; the first refresh
after a commit misses for every chart of the dashboard (~100-150 ms of Superset CPU each, ~1.5 CPU-s for
Campaign Performance), and the viewers who refresh while those misses run would compute the same results
again. Two parts close that gap without ever answering from an older snapshot:

- **Single flight** (`single_flight`): a cacheable query holds a lock named by what it asks and the snapshots
  it reads while it runs, so an identical query waits for it and then reads the result it cached, instead of
  computing it a second time. The lock is a file lock (fcntl) in the state folder, shared by all gunicorn
  workers.
- **The warmer** (`start`): the chart-data requests the viewers made (recorded by `record`, each kept while
  it was asked within the last RECENT_SECONDS) are made again as soon as the catalog points at a new snapshot,
  by one thread in one gunicorn worker (the one holding the leader lock). A viewer arriving after the warm
  finds the results cached; one arriving during it waits for the chart being computed rather than computing
  it. The warmer asks through Superset's own HTTP API as the `viewer` user (a session from Superset's machine
  login, as its reports and thumbnails do), so every permission check applies to it; the cache key holds no
  user (only row-level security, which this deployment does not use), so its results serve every viewer.

What is recorded: the method, path and body of a chart-data request that reached a cacheable query; no
header, no cookie, no user. Requests the warmer makes are not recorded (a query nobody asks any more goes cold).
"""
from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import lakehouse_views

log = logging.getLogger("lakehouse.warmer")

# The header that marks the warmer's own requests (not recorded, so they do not keep a query warm).
WARMER_HEADER = "X-Lakehouse-Warmer"
# A recorded request is warmed while a viewer asked for it within this many seconds: an open dashboard
# refreshes every 10 s, so a query not asked for 15 minutes belongs to nobody watching.
RECENT_SECONDS = 15 * 60
# Recorded requests not asked for this long are deleted; lock files this long after they were made.
FORGET_SECONDS = 24 * 3600
LOCK_FORGET_SECONDS = 3600
# How often those are looked for.
FORGET_EVERY_SECONDS = 600
# How often the catalog is asked for the current snapshots: a SQLite catalog is one local read; a REST
# catalog answers with each table's whole metadata, so it is asked less often.
POLL_SECONDS = {"sql": 0.5, "rest": 2.0}
# Requests in flight at once while warming: the cache misses of one dashboard spread over gunicorn's
# threads (2 workers x 4), leaving half of them to the viewers.
PARALLEL = 4
# A chart whose query takes longer than this is left to the viewers.
REQUEST_TIMEOUT_SECONDS = 120


def _dirs(state_dir: str) -> tuple[str, str]:
    return os.path.join(state_dir, "chart-warm"), os.path.join(state_dir, "chart-locks")


@contextmanager
def single_flight(state_dir: str, identity: str) -> Iterator[None]:
    """Holds the lock named by `identity` (what the query asks and the snapshots it reads) while the block runs."""
    locks = _dirs(state_dir)[1]
    os.makedirs(locks, exist_ok=True)
    name = hashlib.sha256(identity.encode()).hexdigest()[:32]
    fd = os.open(os.path.join(locks, name), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def record(state_dir: str) -> None:
    """Records the current chart-data request (when a viewer made it) for the warmer: called while it is answered."""
    from flask import has_request_context, request

    if not has_request_context() or request.headers.get(WARMER_HEADER) or "/chart/" not in request.path:
        return
    body = request.get_data(cache=True) or b""
    wanted = {"method": request.method, "path": request.full_path.rstrip("?"), "body": base64.b64encode(body).decode()}
    name = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:32] + ".json"
    folder = _dirs(state_dir)[0]
    target = os.path.join(folder, name)
    try:
        os.utime(target)  # asked again: still wanted
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        tmp = f"{target}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(wanted, f)
        os.replace(tmp, target)


def recent_requests(state_dir: str, now: float) -> list[dict[str, Any]]:
    """The recorded requests a viewer made within RECENT_SECONDS."""
    folder = _dirs(state_dir)[0]
    out = []
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json")]
    except FileNotFoundError:
        return out
    for name in names:
        try:
            p = os.path.join(folder, name)
            if now - os.stat(p).st_mtime <= RECENT_SECONDS:
                with open(p, encoding="utf-8") as f:
                    out.append(json.load(f))
        except (OSError, ValueError):
            continue  # deleted meanwhile, or half-written by a worker that died
    return out


def forget(state_dir: str, now: float) -> None:
    """Deletes the requests nobody asked for FORGET_SECONDS and the lock files of queries that long done
    (a lock matters only while its query runs; one is left per query and snapshot)."""
    for folder, older_than in zip(_dirs(state_dir), (FORGET_SECONDS, LOCK_FORGET_SECONDS)):
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            continue
        for name in names:
            p = os.path.join(folder, name)
            try:
                if not name.startswith(".") and now - os.stat(p).st_mtime > older_than:
                    os.unlink(p)
            except OSError:
                continue


def _send(url: str, cookies: dict[str, str], wanted: dict[str, Any]) -> int:
    req = urllib.request.Request(url + wanted["path"], method=wanted["method"], data=base64.b64decode(wanted["body"]) or None)
    req.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
    req.add_header(WARMER_HEADER, "1")
    if req.data:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_SECONDS) as res:  # noqa: S310 (our own loopback URL)
            res.read()
            return res.status
    except urllib.error.HTTPError as e:
        return e.code


class Warmer:
    def __init__(self, app: Any, state_dir: str, url: str, user: str, snapshots: Callable[[], dict[str, Any]]):
        self.app, self.state_dir, self.url, self.user = app, state_dir, url, user
        self.snapshots = snapshots
        self.warmed: str | None = None

    def cookies(self) -> dict[str, str]:
        from superset import security_manager
        from superset.utils.machine_auth import MachineAuthProvider

        with self.app.app_context():
            user = security_manager.find_user(username=self.user)
            if user is None:
                raise RuntimeError(f"no user {self.user!r} to warm the charts as")
            return MachineAuthProvider.get_auth_cookies(user)

    def warm_once(self) -> None:
        """Warms the recent requests if the catalog points at snapshots not warmed yet."""
        wanted = recent_requests(self.state_dir, time.time())
        if not wanted:
            return  # nobody is watching: the catalog is not even asked
        snapshots = self.snapshots()
        current = json.dumps(snapshots, sort_keys=True)
        if current == self.warmed:
            return
        started = time.monotonic()
        cookies = self.cookies()
        with ThreadPoolExecutor(PARALLEL) as pool:
            statuses = list(pool.map(lambda w: _send(self.url, cookies, w), wanted))
        failed = sum(1 for s in statuses if s >= 400)
        log.info("warmed %d chart requests for new snapshots in %.2f s (%d answered with an error): %s",
                 len(wanted), time.monotonic() - started, failed, json.dumps(snapshots.get("locations")))
        self.warmed = current

    def run(self) -> None:
        folder = _dirs(self.state_dir)[0]
        os.makedirs(folder, exist_ok=True)
        leader = os.open(os.path.join(folder, ".leader"), os.O_RDWR | os.O_CREAT, 0o600)
        while True:  # one worker warms; another takes over when it exits
            try:
                fcntl.flock(leader, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(5)
        failures = 0
        poll = POLL_SECONDS.get(lakehouse_views.load_config().get("type", ""), 2.0)
        forgotten = 0.0
        while True:
            try:
                if time.monotonic() - forgotten > FORGET_EVERY_SECONDS:
                    forget(self.state_dir, time.time())
                    forgotten = time.monotonic()
                self.warm_once()
                failures = 0
                time.sleep(poll)
            except Exception as e:  # noqa: BLE001 (the warmer must outlive a catalog or server hiccup)
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning("chart warmer: %s (attempt %d; retrying every 5 s)", e, failures)
                time.sleep(5)


def start(app: Any, state_dir: str, snapshots: Callable[[], dict[str, Any]]) -> None:
    """Starts the warmer thread in a gunicorn worker ($LAKEHOUSE_SUPERSET_WARM_URL names the server; unset in
    Superset's CLI commands, which run no warmer). LAKEHOUSE_SUPERSET_WARMER=off turns it off (to measure
    without it)."""
    url = os.environ.get("LAKEHOUSE_SUPERSET_WARM_URL")
    if not url or os.environ.get("LAKEHOUSE_SUPERSET_WARMER", "on") == "off":
        return
    user = os.environ.get("LAKEHOUSE_SUPERSET_WARM_USER", "viewer")
    warmer = Warmer(app, state_dir, url.rstrip("/"), user, snapshots)
    threading.Thread(target=warmer.run, name="lakehouse-chart-warmer", daemon=True).start()
