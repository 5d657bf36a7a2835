"""The shared jar of Cloudflare clearance cookies (with the User-Agent they are bound to).

Why: web processes and the worker each have their own HTTP client; a clearance one of
them solved must reach the others, and a client holding an old copy must never overwrite
a newer one.

Cookie records are keyed by (domain, path, name), each stamped with the wall-clock time it
was set (``set_at``); merging keeps, per cookie, the newest stamp. The User-Agent is a
record of its own. In Redis (a hash, merged by a Lua script, with a version counter
clients poll cheaply) when Redis is configured, with ``SCRAPER_COOKIE_PATH`` kept as a
durable copy; in that file alone otherwise (merged under an exclusive file lock).
:class:`ClearanceSync` is one client's side of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.cookiejar
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from scraper.budget import OutageWarner, redis_configured, redis_parts

__all__ = [
    "UA_FIELD",
    "ClearanceSync",
    "FileJar",
    "JarState",
    "RedisJar",
    "SharedJar",
    "cookie_field",
    "make_cookie",
    "shared_jar",
]

logger = logging.getLogger("scraper.cookies")


def cookie_field(record: Mapping[str, Any]) -> str:
    """A cookie's identity in the jar: domain, path and name (what a browser keys on)."""
    return f"c|{record.get('domain') or ''}|{record.get('path') or '/'}|{record['name']}"


UA_FIELD = "ua"


@dataclass
class JarState:
    """The shared jar: field -> record (cookie records and the ``ua`` record, each with
    its ``set_at``) and an opaque version that changes whenever anything was merged."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: str = ""


class SharedJar(Protocol):
    def load(self) -> JarState: ...

    def version(self) -> str: ...

    def merge(self, records: Iterable[Mapping[str, Any]]) -> None: ...


def _field_of(record: Mapping[str, Any]) -> str:
    return UA_FIELD if record.get("kind") == UA_FIELD else cookie_field(record)


def _newer(record: Mapping[str, Any], than: Mapping[str, Any] | None) -> bool:
    return than is None or float(record.get("set_at") or 0) > float(than.get("set_at") or 0)


class FileJar:
    """The jar in a JSON file (``SCRAPER_COOKIE_PATH``): merged under an exclusive lock
    on a side file and replaced atomically, so processes sharing the file never lose a
    newer cookie to an older copy. Reads the old format (a plain list of cookies) too."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def version(self) -> str:
        try:
            stat = self.path.stat()
        except OSError:
            return ""
        return f"{stat.st_mtime_ns}:{stat.st_size}:{stat.st_ino}"

    def load(self) -> JarState:
        version = self.version()
        return JarState(self._read(), version)

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            items = data if isinstance(data, list) else data.get("records", [])
            records: dict[str, dict[str, Any]] = {}
            for item in items:
                if not isinstance(item, dict):
                    raise TypeError("a record is not an object")
                records[_field_of(item)] = dict(item)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # A damaged jar must not stop a crawl; at worst we look like a new visitor.
            logger.warning("ignoring unreadable cookie file %s: %s", self.path, exc)
            return {}
        return records

    def merge(self, records: Iterable[Mapping[str, Any]]) -> None:
        incoming = list(records)
        if not incoming:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self._read()
            changed = False
            for record in incoming:
                name = _field_of(record)
                if _newer(record, current.get(name)):
                    current[name] = dict(record)
                    changed = True
            if changed:
                self._write(list(current.values()))

    def _write(self, records: list[dict[str, Any]]) -> None:
        # Write-then-rename so a crash mid-write never leaves a truncated jar behind.
        fd, tmp_name = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"format": 2, "records": records}, handle, indent=1)
            Path(tmp_name).replace(self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(tmp_name).unlink()
            raise


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


# KEYS: records hash, stamps hash, version. ARGV: (field, set_at, json) triples.
_MERGE_LUA = """
local changed = 0
for i = 1, #ARGV, 3 do
  local cur = redis.call('HGET', KEYS[2], ARGV[i])
  if (not cur) or tonumber(cur) < tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    changed = changed + 1
  end
end
if changed > 0 then
  return redis.call('INCR', KEYS[3])
end
return -1
"""


class RedisJar:
    """The jar in Redis, shared by every process; ``backup`` (the cookie file) keeps a
    durable copy and seeds Redis when its copy is gone (flushed, evicted). Falls back to
    the file when Redis fails."""

    def __init__(
        self,
        connection: Callable[[], Any],
        *,
        key: Callable[[str], str] = lambda name: name,
        backup: FileJar | None = None,
    ) -> None:
        self._connection = connection
        self._names = [key("scraper:jar:records"), key("scraper:jar:stamps"), key("scraper:jar:v")]
        self.backup = backup
        self._warn = OutageWarner(logger)

    def version(self) -> str:
        try:
            value = self._connection().get(self._names[2])
        except Exception as exc:
            self._warn("cookie jar: Redis unavailable (%s); using the file", exc)
            return "file:" + (self.backup.version() if self.backup else "")
        return _text(value)

    def load(self) -> JarState:
        try:
            conn = self._connection()
            pipe = conn.pipeline(transaction=True)
            pipe.hgetall(self._names[0])
            pipe.get(self._names[2])
            raw, version = pipe.execute()
            if not raw and self.backup is not None:
                seed = self.backup.load().records
                if seed:
                    self.merge(seed.values(), backup=False)
                    pipe = conn.pipeline(transaction=True)
                    pipe.hgetall(self._names[0])
                    pipe.get(self._names[2])
                    raw, version = pipe.execute()
        except Exception as exc:
            self._warn("cookie jar: Redis unavailable (%s); using the file", exc)
            if self.backup is None:
                return JarState()
            state = self.backup.load()
            return JarState(state.records, "file:" + state.version)
        records: dict[str, dict[str, Any]] = {}
        for name, value in raw.items():
            with contextlib.suppress(ValueError, TypeError):
                records[name.decode() if isinstance(name, bytes) else name] = json.loads(value)
        return JarState(records, _text(version))

    def merge(self, records: Iterable[Mapping[str, Any]], *, backup: bool = True) -> None:
        incoming = list(records)
        if not incoming:
            return
        args: list[str] = []
        for record in incoming:
            args += [_field_of(record), repr(float(record.get("set_at") or 0)), json.dumps(record)]
        try:
            conn = self._connection()
            conn.eval(_MERGE_LUA, 3, *self._names, *args)
        except Exception as exc:
            self._warn("cookie jar: Redis unavailable (%s); using the file", exc)
        if backup and self.backup is not None:
            try:
                self.backup.merge(incoming)
            except OSError as exc:
                logger.warning("could not write the cookie file %s: %s", self.backup.path, exc)


def shared_jar(path: Path) -> SharedJar:
    """The clearance jar: Redis (with ``path`` as its durable copy) when configured, else
    the file at ``path``."""
    try:
        redis_on = redis_configured()
    except Exception:
        redis_on = False
    if not redis_on:
        return FileJar(path)
    connection, key = redis_parts()
    return RedisJar(connection, key=key, backup=FileJar(path))


# --------------------------------------------------------------------------- one client


class ClearanceSync:
    """One client's side of the shared jar: adopts what others published that is newer
    than what it knows, and publishes only the cookies that changed in its own jar, each
    stamped with when it changed. ``use_user_agent`` switches the client's User-Agent (and
    its client hints) when a newer one comes with a clearance."""

    def __init__(
        self,
        cookies: http.cookiejar.CookieJar,
        shared: SharedJar | None,
        *,
        lock: threading.RLock,
        use_user_agent: Callable[[str], None],
    ) -> None:
        self._cookies = cookies
        self._shared = shared
        self._lock = lock
        self._use_user_agent = use_user_agent
        self._version: str | None = None
        # What this client last read from or wrote to the shared jar, by field: a cookie
        # whose value differs from it changed here and is published with a new stamp.
        self._known: dict[str, dict[str, Any]] = {}
        self._saved: frozenset[tuple[Any, ...]] = frozenset()
        if shared is not None:
            self._apply(shared.load())

    def cookie_list(self) -> list[http.cookiejar.Cookie]:
        # httpx updates the jar from worker threads under the jar's own lock; iterating
        # without it can hit "dictionary changed size during iteration".
        lock = getattr(self._cookies, "_cookies_lock", None) or contextlib.nullcontext()
        with lock:
            return list(self._cookies)

    def sync(self) -> bool:
        """Take what other clients published since we last looked; True when anything
        was adopted."""
        if self._shared is None or self._shared.version() == self._version:
            return False
        return self._apply(self._shared.load())

    def adopt(
        self,
        cookies: Mapping[str, str] | Iterable[Mapping[str, Any]],
        user_agent: str,
        *,
        host: str,
    ) -> int:
        """Take a solved challenge's cookies (a name→value dict for ``host``, or
        Playwright-style cookie dicts) and User-Agent, and publish them together (the
        clearance is worthless with another UA). Returns how many cookies came."""
        if isinstance(cookies, Mapping):
            items: list[Mapping[str, Any]] = [
                {"name": name, "value": value, "domain": host, "path": "/"}
                for name, value in cookies.items()
            ]
        else:
            items = list(cookies)
        stamp = time.time()
        fresh: list[dict[str, Any]] = []
        for item in items:
            cookie = make_cookie(item, default_domain=host)
            self._cookies.set_cookie(cookie)
            fresh.append({**_cookie_record(cookie), "set_at": stamp})
        self._use_user_agent(user_agent)
        fresh.append({"kind": UA_FIELD, "value": user_agent, "set_at": stamp})
        self._publish(fresh)
        return len(items)

    def publish_changes(self) -> None:
        """Publish the cookies the origin set or changed in this client's jar."""
        if self._shared is None:
            return
        with self._lock:
            cookies = self.cookie_list()
            snapshot = frozenset((c.name, c.value, c.domain, c.path, c.expires) for c in cookies)
            if snapshot == self._saved:
                return
            stamp = time.time()
            changed = []
            for cookie in cookies:
                record = _cookie_record(cookie)
                known = self._known.get(cookie_field(record))
                if (
                    known is None
                    or known.get("value") != record["value"]
                    or known.get("expires") != record["expires"]
                ):
                    changed.append({**record, "set_at": stamp})
            self._saved = snapshot
        self._publish(changed)

    def _apply(self, state: JarState) -> bool:
        """Adopt every record of the shared jar newer than what this client knows."""
        adopted = False
        now = time.time()
        with self._lock:
            for name, record in state.records.items():
                if not _newer(record, self._known.get(name)):
                    continue
                self._known[name] = record
                if name == UA_FIELD:
                    self._use_user_agent(str(record["value"]))
                    adopted = True
                    continue
                try:
                    cookie = make_cookie(record, default_domain="")
                except (ValueError, TypeError, KeyError) as exc:
                    logger.warning("ignoring a damaged cookie record %r: %s", name, exc)
                    continue
                if not cookie.is_expired(int(now)):
                    self._cookies.set_cookie(cookie)
                    adopted = True
            # _saved stays: the next check compares with _known (updated above), so these
            # are not published back, and a cookie another thread just got still is.
            self._version = state.version
        return adopted

    def _publish(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        with self._lock:
            for record in records:
                self._known[_field_of(record)] = record
        if self._shared is not None:
            # Only what changed here, each cookie with its own stamp: the jar keeps the
            # newest of each, so an old copy held by this client never wins.
            self._shared.merge(records)


def _cookie_record(c: http.cookiejar.Cookie) -> dict[str, Any]:
    return {
        "name": c.name,
        "value": c.value,
        "domain": c.domain,
        "path": c.path,
        "expires": c.expires,
        "secure": c.secure,
        "httpOnly": c.has_nonstandard_attr("HttpOnly") or c.has_nonstandard_attr("httponly"),
        "hostOnly": not c.domain_specified,
    }


def make_cookie(record: Mapping[str, Any], *, default_domain: str) -> http.cookiejar.Cookie:
    """An ``http.cookiejar`` cookie from our JSON record or a Playwright cookie dict."""
    domain = str(record.get("domain") or default_domain)
    host_only = record.get("hostOnly")
    domain_specified = not host_only if host_only is not None else domain.startswith(".")
    expires = record.get("expires")
    # Playwright marks session cookies with expires == -1.
    expires_at = int(expires) if expires is not None and float(expires) >= 0 else None
    rest = {"HttpOnly": ""} if record.get("httpOnly") else {}
    return http.cookiejar.Cookie(
        version=0,
        name=str(record["name"]),
        value=str(record["value"]),
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=domain_specified,
        domain_initial_dot=domain.startswith("."),
        path=str(record.get("path") or "/"),
        path_specified=True,
        secure=bool(record.get("secure", False)),
        expires=expires_at,
        discard=expires_at is None,
        comment=None,
        comment_url=None,
        rest=rest,
    )
