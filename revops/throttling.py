"""The API's rate limit (a module of its own: DRF imports it while its views load)."""

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

log = logging.getLogger(__name__)


class TokenRateThrottle(UserRateThrottle):
    """At most `API_RATE_LIMIT` requests per user (an API token is one user's), counted in
    the shared cache: a 429 with `Retry-After` beyond it. The rate is read at each request
    (settings can change it); when the cache is down, requests are let through rather than
    refused."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except Exception:  # Redis down: availability first, the limit is a guard rail
            log.warning("API rate limit not applied: the cache does not answer")
            return True
