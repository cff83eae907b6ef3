"""The deployment files (docker/) say what the README says. No Docker engine runs here.

PyYAML is not a dependency, so compose.yaml is read by the small block-YAML reader below: mappings,
"- " sequences, plain and quoted scalars, and JSON-style flow sequences. compose.yaml keeps to that
subset (the reader refuses anything else), which is all a compose file needs.
"""

from __future__ import annotations

import json
import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.sqlite_only

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"


# --- a minimal block-YAML reader ----------------------------------------------------------------


def _scalar(text: str):
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    if text in ("", "null", "~"):
        return None
    if text[0] in "{&*!|>":
        raise ValueError(f"unsupported YAML: {text!r}")
    return text


def _lines(source: str):
    for raw in source.split("\n"):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError("tabs in indentation")
        yield len(raw) - len(raw.lstrip(" ")), stripped


def parse_yaml(source: str):
    lines = list(_lines(source))
    position = 0

    def block(indent: int):
        nonlocal position
        if lines[position][1].startswith("- "):
            items = []
            while (
                position < len(lines)
                and lines[position][0] == indent
                and lines[position][1].startswith("- ")
            ):
                items.append(_scalar(lines[position][1][2:]))
                position += 1
            return items
        mapping = {}
        while position < len(lines) and lines[position][0] == indent:
            text = lines[position][1]
            key, colon, rest = text.partition(":")
            if not colon or (rest and not rest.startswith(" ")):
                raise ValueError(f"not a mapping entry: {text!r}")
            key = _scalar(key)
            position += 1
            if rest.strip():
                mapping[key] = _scalar(rest)
            elif position < len(lines) and lines[position][0] > indent:
                mapping[key] = block(lines[position][0])
            elif (
                position < len(lines)
                and lines[position][0] == indent
                and lines[position][1].startswith("- ")
            ):
                mapping[key] = block(indent)
            else:
                mapping[key] = None
        return mapping

    document = block(0)
    if position != len(lines):
        raise ValueError(f"unexpected indentation at {lines[position][1]!r}")
    return document


def test_reader_reads_the_subset():
    text = 'a:\n  b: 1\n  c: "x: y"\n  d:\n    - one\n    - "two"\n  e: ["CMD", "x"]\nf:\n'
    assert parse_yaml(text) == {
        "a": {"b": 1, "c": "x: y", "d": ["one", "two"], "e": ["CMD", "x"]},
        "f": None,
    }
    with pytest.raises(ValueError):
        parse_yaml("a: {b: 1}\n")


# --- the files ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose():
    return parse_yaml((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def dockerfile():
    return (DOCKER / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def readme():
    return (ROOT / "README.md").read_text()


def _final_stage(dockerfile: str) -> list[str]:
    """The instructions of the last stage, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    instructions = [
        line.strip()
        for line in joined.split("\n")
        if line.strip() and not line.strip().startswith("#")
    ]
    last_from = max(i for i, line in enumerate(instructions) if line.upper().startswith("FROM "))
    return instructions[last_from:]


def _instruction(stage: list[str], name: str) -> list[str]:
    return [line[len(name) + 1 :].strip() for line in stage if line.upper().startswith(name + " ")]


def test_dockerfile_is_slim_python_non_root_gunicorn(dockerfile):
    stage = _final_stage(dockerfile)
    assert re.fullmatch(r"python:3\.\d+-slim", stage[0].split()[1]), stage[0]
    users = _instruction(stage, "USER")
    assert users and users[-1] not in ("root", "0"), "the gateway must not run as root"
    command = json.loads(_instruction(stage, "CMD")[-1])
    assert command[0] == "gunicorn" and "-c" in command
    config_path = command[command.index("-c") + 1]
    assert f"COPY docker/gunicorn.conf.py {config_path}" in stage
    assert "8000" in _instruction(stage, "EXPOSE")
    assert any("GATEWAY_KEYS_DIR=/keys" in env for env in _instruction(stage, "ENV"))


def test_dockerignore_keeps_private_keys_out():
    ignored = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    assert "keys" in ignored and ".venv" in ignored


def test_gunicorn_config_is_threaded_and_env_driven(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "4")
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.1:9999")
    config = runpy.run_path(str(DOCKER / "gunicorn.conf.py"))
    assert config["worker_class"] == "gthread"
    assert (config["workers"], config["threads"], config["bind"]) == (3, 4, "127.0.0.1:9999")
    assert config["wsgi_app"] == "gateway:create_app()"
    # The long-poll waits up to 30 s: a worker must not be killed for it.
    assert config["timeout"] > 30
    monkeypatch.delenv("GUNICORN_BIND")
    assert runpy.run_path(str(DOCKER / "gunicorn.conf.py"))["bind"] == "0.0.0.0:8000"


def test_compose_runs_postgres_with_a_health_check(compose):
    db = compose["services"]["db"]
    assert db["image"].startswith("postgres:")
    test = db["healthcheck"]["test"]
    assert "pg_isready" in " ".join(test)
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])


def test_compose_migrates_before_the_gateway_starts(compose):
    services = compose["services"]
    migrate, gateway = services["migrate"], services["gateway"]
    assert migrate["command"] == ["gateway", "init-db"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert gateway["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert migrate["build"]["dockerfile"] == "docker/Dockerfile"
    assert migrate["image"] == gateway["image"]


def test_compose_gateway_uses_postgres_and_keys_on_a_volume(compose):
    services = compose["services"]
    for name in ("migrate", "gateway"):
        environment = services[name]["environment"]
        url = environment["GATEWAY_DATABASE_URL"]
        # db first; the HA profile's standby after it, for libpq to find the writable one.
        assert url.startswith("postgresql://") and ("@db:5432/" in url or "@db:5432," in url)
        keys_dir = environment["GATEWAY_KEYS_DIR"]
        mounts = dict(volume.split(":", 1)[::-1] for volume in services[name]["volumes"])
        assert keys_dir in mounts, f"{name}: the key ring must be on a volume"
        assert mounts[keys_dir] in compose["volumes"], "a named volume, kept across restarts"
    gateway = services["gateway"]
    assert gateway["command"] == ["gunicorn", "-c", "/app/gunicorn.conf.py"]
    assert "8000:8000" in gateway["ports"]
    assert "/readyz" in " ".join(gateway["healthcheck"]["test"])


def test_readme_names_what_the_files_do(readme, compose, dockerfile):
    section = readme.split("## Deployment notes", 1)[1]
    for phrase in (
        "docker compose -f docker/compose.yaml up",
        "gateway init-db",
        "docker/gunicorn.conf.py",
        "GATEWAY_KEYS_DIR",
        "GATEWAY_DATABASE_URL",
        "non-root",
        "CockroachDB",
    ):
        assert phrase in section, phrase
    # Every gateway setting the compose file sets is one the README documents.
    for service in ("migrate", "gateway"):
        for name in compose["services"][service]["environment"]:
            assert f"`{name}`" in readme, (
                f"{name} is set in compose.yaml but not described in the README"
            )
    assert "gthread" in section and "gthread" in (DOCKER / "gunicorn.conf.py").read_text()
    assert "/keys" in section and "/keys" in dockerfile


# --- the HA profile (issue 15): a synchronous standby, a second gateway host, HAProxy -----------

HA = DOCKER / "ha"
HA_SERVICES = ("standby", "gateway-2", "haproxy")


def _mounts(service: dict) -> dict[str, str]:
    """Container path -> host path (or volume) of a service's mounts, `:ro` dropped."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.removesuffix(":ro").split(":", 1)
        found[target] = source
    return found


def test_the_ha_profile_is_optional(compose):
    services = compose["services"]
    for name in HA_SERVICES:
        assert services[name]["profiles"] == ["ha"], name
    for name in ("db", "migrate", "gateway", "webhooks"):
        assert "profiles" not in services[name], f"{name} must run without the HA profile"
        for dependency in services[name].get("depends_on", {}):
            assert dependency not in HA_SERVICES, f"{name} must not need the HA profile"


def test_the_standby_replicates_db_and_makes_itself_synchronous(compose):
    standby = compose["services"]["standby"]
    assert standby["image"] == compose["services"]["db"]["image"]
    assert standby["depends_on"]["db"]["condition"] == "service_healthy"
    script_path = standby["command"][-1]
    assert _mounts(standby)[script_path] == "./ha/standby.sh"
    assert _mounts(standby)["/var/lib/postgresql/data"] in compose["volumes"]
    script = (HA / "standby.sh").read_text()
    assert "pg_basebackup" in script and "--write-recovery-conf" in script
    assert "synchronous_standby_names = 'standby'" in script
    assert "application_name=standby" in script
    # The primary lets the replication role in, from its first start.
    db_mounts = _mounts(compose["services"]["db"])
    assert db_mounts["/docker-entrypoint-initdb.d/10-replication.sh"] == (
        "./ha/primary-replication.sh"
    )
    assert "host replication replicator" in (HA / "primary-replication.sh").read_text()
    for name in ("standby.sh", "primary-replication.sh"):
        subprocess.run(["bash", "-n", str(HA / name)], check=True)


def test_every_gateway_lists_both_database_hosts_and_wants_the_writable_one(compose):
    services = compose["services"]
    for name in ("migrate", "gateway", "webhooks", "gateway-2"):
        url = services[name]["environment"]["GATEWAY_DATABASE_URL"]
        assert "@db:5432,standby:5432/interkop" in url, name
        assert url.endswith("?target_session_attrs=read-write"), name
    gateway, second = services["gateway"], services["gateway-2"]
    assert second["environment"] == gateway["environment"]
    assert second["command"] == gateway["command"] and second["image"] == gateway["image"]
    assert "ports" not in second, "the second host is reached through haproxy"


def test_haproxy_health_checks_readyz_and_keeps_metrics_inside(compose):
    haproxy = compose["services"]["haproxy"]
    assert _mounts(haproxy)["/usr/local/etc/haproxy/haproxy.cfg"] == "./ha/haproxy.cfg"
    assert set(haproxy["depends_on"]) == {"gateway", "gateway-2"}
    config = (HA / "haproxy.cfg").read_text()
    assert "option httpchk GET /readyz" in config
    assert "http-check expect status 200" in config
    assert "server gateway gateway:8000" in config and "server gateway-2 gateway-2:8000" in config
    assert "deny_status 404 if { path_beg /metrics }" in config
    assert "set-header X-Request-Id" in config
    haproxy_binary = shutil.which("haproxy")
    if haproxy_binary:  # Debian's haproxy, where installed: the file is one it accepts
        checked = subprocess.run(
            [haproxy_binary, "-c", "-f", str(HA / "haproxy.cfg")], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_gunicorn_gives_its_workers_one_metrics_folder_emptied_at_start(monkeypatch, tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"an earlier run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    monkeypatch.delenv("INTERKOP_METRICS_MASTER", raising=False)
    config = runpy.run_path(str(DOCKER / "gunicorn.conf.py"))
    assert (directory / "counter_1.db").exists(), "reading the file changes nothing"
    assert config["prepare_metrics_directory"]() == str(directory)
    assert directory.is_dir() and not any(directory.iterdir())
    (directory / "counter_2.db").write_bytes(b"a worker of this run")
    config["prepare_metrics_directory"]()  # a reload (SIGHUP) keeps the workers' files
    assert (directory / "counter_2.db").exists()
    assert callable(config["child_exit"])
