"""API clients in tests: create one as a cooperative's admin, get its tokens, call as it."""

from __future__ import annotations

import base64

ALL_SCOPES = ["members:read", "members:write", "payments:read", "reports:read"]
TOKEN_PATH = "/api/v1/auth/token"


def create_client(city, admin, coop_id: str, scopes=None, name: str = "Sistem inti") -> dict:
    """Create an API client of `coop_id` as its admin; return the answer (with the secret)."""
    response = city.post(
        admin,
        f"/api/v1/cooperatives/{coop_id}/api-clients",
        {"name": name, "scopes": ALL_SCOPES if scopes is None else scopes},
        key=None,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def request_token(http, client_id=None, secret=None, *, scope=None, in_form=False, **extra):
    """POST the token request: by HTTP Basic unless `in_form`; `extra` joins the form."""
    form = {"grant_type": "client_credentials", **extra}
    headers = {}
    if scope is not None:
        form["scope"] = scope
    if in_form:
        form.update({k: v for k, v in (("client_id", client_id), ("client_secret", secret)) if v})
    elif client_id is not None:
        headers["Authorization"] = basic(client_id, secret or "")
    return http.post(TOKEN_PATH, data=form, headers=headers)


def client_token(http, created: dict, scope: str | None = None) -> str:
    response = request_token(http, created["client_id"], created["client_secret"], scope=scope)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
