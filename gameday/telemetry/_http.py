"""The one HTTP helper every telemetry client uses: timeouts always, errors name the URL."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from gameday.errors import StackUnavailable

DEFAULT_TIMEOUT = 10.0


class HttpClient:
    """GETs and POSTs against one base URL with a timeout on every call.

    Connection failures, timeouts and unexpected status codes raise ``StackUnavailable``
    naming the method and the full URL. Safe to share between threads.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        token: str | None = None,
        pool_size: int = 16,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        # Bigger pool than the default 10: get_traces fans out over a thread pool.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` under the base URL."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        accept: Collection[int] = (200,),
    ) -> requests.Response:
        """Send one request; a status outside ``accept`` raises ``StackUnavailable``."""
        url = self.url(path)
        try:
            response = self._session.request(
                method, url, params=params, json=json, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise StackUnavailable(f"{method} {url}: {exc}") from exc
        if response.status_code not in accept:
            raise StackUnavailable(
                f"{method} {response.url}: HTTP {response.status_code}: {response.text[:300]}"
            )
        return response

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        accept: Collection[int] = (200,),
    ) -> requests.Response:
        """``GET path``; see :meth:`request`."""
        return self.request("GET", path, params=params, accept=accept)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET path`` expecting 200 and a JSON body."""
        return decode_json(self.get(path, params))

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()


def decode_json(response: requests.Response) -> Any:
    """The JSON body of ``response``; ``StackUnavailable`` naming the URL if it is not JSON."""
    try:
        return response.json()
    except ValueError as exc:
        raise StackUnavailable(
            f"GET {response.url}: expected JSON, got {response.text[:200]!r}"
        ) from exc
