"""The PWA without a browser: node's unit tests of the pure modules, what the gateway serves and
how, the service worker's precache list, the size budget, and the refresh-token cookie."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

PWA = Path(__file__).resolve().parents[2] / "pwa"
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no money moves


def test_node_unit_tests_of_the_pure_modules_pass():
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is required in CI")
        pytest.skip("node is not installed")
    result = subprocess.run(
        [node, "--test", *sorted(str(p) for p in (PWA / "tests").glob("*.test.js"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^# fail 0$", result.stdout, re.M), result.stdout
    assert int(re.search(r"^# pass (\d+)$", result.stdout, re.M).group(1)) >= 15


def fetch(client, path):
    """GET `path`, read the body and close the file behind it (warnings are errors here)."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


@on_sqlite
def test_the_shell_is_served_with_a_strict_policy_and_right_types(client):
    for path in ("/", "/pay"):
        response = fetch(client, path)
        assert response.status_code == 200 and response.mimetype == "text/html"
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self' 'wasm-unsafe-eval'" in policy and "unsafe-inline" not in policy
        assert response.headers["Cache-Control"] == "no-cache"
    html = fetch(client, "/").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script"
    assert not re.search(r"\sstyle=|<style", html), "no inline style"
    expected = {
        "/manifest.webmanifest": "application/manifest+json",
        "/sw.js": "text/javascript",
        "/scripts/main.js": "text/javascript",
        "/styles/base.css": "text/css",
        "/icons/icon-192.png": "image/png",
        "/vendor/barcode-detector-3.2.2/zxing_reader.wasm": "application/wasm",
    }
    for path, mimetype in expected.items():
        response = fetch(client, path)
        assert (response.status_code, response.mimetype) == (200, mimetype), path
    assert (
        "immutable"
        in fetch(client, "/vendor/barcode-detector-3.2.2/zxing-exported.js").headers[
            "Cache-Control"
        ]
    )
    assert fetch(client, "/sw.js").headers["Service-Worker-Allowed"] == "/"
    for path in (
        "/tests/api.test.js",
        "/../pyproject.toml",
        "/api/v1/nope",
        "/icons/make_icons.py",
    ):
        response = fetch(client, path)
        assert response.status_code == 404, path
        assert response.mimetype == "application/problem+json", path


def test_the_service_worker_precaches_the_whole_shell_and_never_the_api():
    source = (PWA / "sw.js").read_text()
    listed = set(re.findall(r'^\s+"(/[^"]*)",$', source, re.M))
    shell = (
        {
            "/" + str(path.relative_to(PWA))
            for folder in ("scripts", "styles")
            for path in (PWA / folder).glob("*")
        }
        | {"/", "/index.html", "/manifest.webmanifest"}
        | {"/" + str(path.relative_to(PWA)) for path in (PWA / "icons").glob("*.png")}
    )
    assert listed == shell
    assert 'url.pathname.startsWith("/api/")' in source


def test_names_are_shown_as_isolated_text_never_as_markup():
    """Every name someone else chose goes through dom.js's shownName (text in a <bdi>), and no
    script parses markup, so neither tags nor text direction in a name reach the screen."""
    markup = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser")
    name = re.compile(r"(?:\w+\??\.)*(?:merchant|payer|cooperative|me|member)\??\.name\b")
    unisolated = []
    for script in sorted((PWA / "scripts").glob("*.js")):
        source = script.read_text()
        code = re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.S)  # comments may say it
        assert not markup.search(code), script.name
        for line_number, line in enumerate(source.splitlines(), 1):
            for found in name.finditer(line):
                if "shownName(" not in line[: found.start()] and "claims.name" not in found[0]:
                    unisolated.append(f"{script.name}:{line_number}: {line.strip()}")
    assert unisolated == []
    dom = (PWA / "scripts" / "dom.js").read_text()
    assert re.search(r'function shownName\(name\) \{\s+return h\("bdi", \{\}, name', dom)
    confirm = (PWA / "scripts" / "PayConfirm.js").read_text()
    assert 'class: "cooperative-name" }, shownName(verified.merchant.cooperative.name)' in confirm


def test_our_code_and_assets_stay_under_150_kb_gzipped():
    files = [
        p
        for p in PWA.rglob("*")
        if p.is_file() and "vendor" not in p.parts and "tests" not in p.parts
    ]
    total = sum(len(gzip.compress(p.read_bytes(), 9)) for p in files)
    assert total < 150 * 1024, total


@on_sqlite
def test_a_browser_session_keeps_the_refresh_token_in_a_strict_httponly_cookie(client, city):
    coop = city.make_cooperative("KSM")
    member = city.make_member(coop)
    login = client.post(
        "/api/v1/auth/login",
        json={"phone": member.phone, "pin": member.pin},
        headers={"Interkop-Session": "cookie"},
    )
    assert login.status_code == 200
    assert "refresh_token" not in login.get_json() and login.get_json()["access_token"]
    cookie = login.headers["Set-Cookie"]
    assert cookie.startswith("interkop_refresh=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/api/v1/auth"):
        assert attribute in cookie
    assert "Secure" not in cookie  # the test client's host is localhost

    refreshed = client.post("/api/v1/auth/refresh", json={})
    assert refreshed.status_code == 200, refreshed.get_json()
    assert "refresh_token" not in refreshed.get_json()
    assert (
        client.get_cookie("interkop_refresh", path="/api/v1/auth").value
        != cookie.split(";")[0].split("=", 1)[1]
    )

    # Not JSON (a cross-site form could send this): refused.
    form = client.post("/api/v1/auth/refresh", data="", content_type="text/plain")
    assert form.status_code == 400

    out = client.post("/api/v1/auth/logout", json={})
    assert out.status_code == 200
    assert client.get_cookie("interkop_refresh", path="/api/v1/auth") is None
    again = client.post("/api/v1/auth/refresh", json={})
    assert again.status_code == 401


@on_sqlite
def test_the_session_cookie_is_secure_off_localhost(client, city):
    coop = city.make_cooperative("KSM")
    member = city.make_member(coop)
    login = client.post(
        "/api/v1/auth/login",
        json={"phone": member.phone, "pin": member.pin},
        headers={"Interkop-Session": "cookie"},
        base_url="https://pay.example.id",
    )
    assert "Secure" in login.headers["Set-Cookie"]


@on_sqlite
def test_api_clients_still_get_the_refresh_token_in_the_body(client, city):
    coop = city.make_cooperative("KSM")
    member = city.make_member(coop)
    login = client.post("/api/v1/auth/login", json={"phone": member.phone, "pin": member.pin})
    assert "Set-Cookie" not in login.headers
    token = login.get_json()["refresh_token"]
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": token})
    assert refreshed.status_code == 200 and refreshed.get_json()["refresh_token"] != token
