"""The little of Prometheus' HTTP API that replay needs: instant queries (stdlib only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT = 10.0  # seconds per request
MAX_RESPONSE = 64 << 20  # bytes: a thpwatch instant query is ~1 MiB; more is not a Prometheus


class PrometheusError(Exception):
    """Prometheus could not be asked, or refused: the message says which and why."""


def validate_url(url: str) -> str:
    """The base URL without a trailing slash; http(s) only."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    return url.rstrip("/")


class PrometheusAPI:
    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url = validate_url(url)
        self.timeout = timeout

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        """Instant vector query at `at` (epoch seconds): the result list (metric, value)."""
        data = self._get("query", {"query": expr, "time": f"{at:.3f}"})
        if data.get("resultType") != "vector":
            raise PrometheusError(f"{expr}: expected a vector, got {data.get('resultType')}")
        return data["result"]

    def matrix(self, expr: str, at: float) -> list[dict[str, Any]]:
        """A range-vector selector evaluated at `at`: the raw samples (metric, values)."""
        data = self._get("query", {"query": expr, "time": f"{at:.3f}"})
        if data.get("resultType") != "matrix":
            raise PrometheusError(f"{expr}: expected a matrix, got {data.get('resultType')}")
        return data["result"]

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                body = response.read(MAX_RESPONSE + 1)
        except urllib.error.HTTPError as e:
            body = e.read(MAX_RESPONSE + 1)
            message = _api_error(body) or f"HTTP {e.code} {e.reason}"
            raise PrometheusError(f"Prometheus at {self.url} refused the query: {message}") from e
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise PrometheusError(f"cannot reach Prometheus at {self.url}: {reason}") from e
        if len(body) > MAX_RESPONSE:
            raise PrometheusError(f"{self.url}: answer larger than {MAX_RESPONSE} bytes")
        try:
            answer = json.loads(body)
            if answer.get("status") != "success":
                raise PrometheusError(f"Prometheus at {self.url}: {_api_error(body)}")
            return answer["data"]
        except (ValueError, KeyError, AttributeError, TypeError) as e:
            raise PrometheusError(f"{self.url} did not answer like a Prometheus server") from e


def _api_error(body: bytes) -> str:
    try:
        answer = json.loads(body)
        return f"{answer['errorType']}: {answer['error']}"
    except (ValueError, KeyError, TypeError):
        return ""
