"""Sessions read from the shared cache (Redis) and kept in Postgres, that keep working
while Redis is down: Django's `cached_db` store guards its cache in `save()` only, so every
signed-in page answered 500 during a Redis outage (it re-caches what it read from the
database). Here a cache that does not answer is a miss, and the database answers."""

import logging

from django.contrib.sessions.backends import cached_db

log = logging.getLogger(__name__)


class SessionStore(cached_db.SessionStore):
    def load(self):
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # Redis down (or a key the cache refuses): read the database
            data = None
        if data is not None:
            return data
        session = self._get_session_from_db()
        if not session:
            return {}
        data = self.decode(session.session_data)
        try:
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=session.expire_date))
        except Exception:
            log.warning("session not cached: the cache does not answer")
        return data

    def exists(self, session_key):
        try:
            if session_key and (self.cache_key_prefix + session_key) in self._cache:
                return True
        except Exception:
            log.warning("session looked up in the database only: the cache does not answer")
        return super(cached_db.SessionStore, self).exists(session_key)

    def delete(self, session_key=None):
        super(cached_db.SessionStore, self).delete(session_key)  # the database's row
        session_key = session_key or self.session_key
        if session_key is None:
            return
        try:
            self._cache.delete(self.cache_key_prefix + session_key)
        except Exception:
            log.warning("session deleted from the database only: the cache does not answer")
