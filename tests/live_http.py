"""Call a gateway that runs for real (gunicorn or werkzeug on a loopback port) over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def call(url, method, path, *, token=None, body=None, key=None, language="id", timeout=10):
    """Send one JSON request; return (status, headers, JSON body), errors included."""
    headers = {"Accept": "application/json", "Accept-Language": language}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read() or b"null")
