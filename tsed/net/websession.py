"""Web sessions of the setup page: an opaque cookie plus a CSRF token per session.

The cookie (``tsed_session``) is Secure, HttpOnly and SameSite=Strict; its value is kept only
as a hash. Every state-changing request must also send the session's CSRF token in the
``X-CSRF-Token`` header (the page reads it from the login answer; another site can neither
read it nor send the cookie along). Sessions end after :data:`IDLE_SECONDS` without a request,
after :data:`MAX_SECONDS` in all, on logout, and all at once when the password changes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "tsed_session"
CSRF_HEADER = "X-CSRF-Token"
IDLE_SECONDS = 30 * 60
MAX_SECONDS = 12 * 3600
MAX_SESSIONS = 32


@dataclass(slots=True)
class WebSession:
    id_hash: str
    csrf: str
    source: str
    created_at: float
    seen_at: float

    @property
    def actor(self) -> str:
        return f"web:{self.id_hash[:8]}@{self.source}"


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class WebSessions:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sessions: dict[str, WebSession] = {}

    def create(self, source: str) -> tuple[str, WebSession]:
        """A new session; returns the cookie value (never stored) and the session."""
        self._expire()
        while len(self._sessions) >= MAX_SESSIONS:  # the oldest goes first
            oldest = min(self._sessions.values(), key=lambda s: s.seen_at)
            del self._sessions[oldest.id_hash]
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        session = WebSession(_hash(session_id), secrets.token_urlsafe(24), source, now, now)
        self._sessions[session.id_hash] = session
        return session_id, session

    def get(self, session_id: str | None) -> WebSession | None:
        if not session_id or len(session_id) > 128:
            return None
        self._expire()
        session = self._sessions.get(_hash(session_id))
        if session is not None:
            session.seen_at = self._clock()
        return session

    def peek(self, session_id: str | None) -> WebSession | None:
        """The session, without counting this as activity: a page that only polls for news
        (:mod:`tsed.net.live`) does not keep an unattended session alive."""
        if not session_id or len(session_id) > 128:
            return None
        self._expire()
        return self._sessions.get(_hash(session_id))

    @staticmethod
    def csrf_ok(session: WebSession, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(session.csrf, token)

    def drop(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(_hash(session_id), None)

    def drop_all(self) -> None:
        self._sessions.clear()

    def _expire(self) -> None:
        now = self._clock()
        for key, s in list(self._sessions.items()):
            if now - s.seen_at > IDLE_SECONDS or now - s.created_at > MAX_SECONDS:
                del self._sessions[key]
