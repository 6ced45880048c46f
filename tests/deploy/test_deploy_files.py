"""The deployment files read as an operator (and Docker) would, without a Docker engine:
docker-compose.yml, deploy/env.example, the Dockerfile, the lock, gunicorn.conf.py.

- every setting the app reads is passed by compose and listed in env.example (or excluded
  below, with the reason);
- compose parses, every service's command exists in the image, start-up order, shutdown
  grace, logs, pinned images, capacity;
- the image installs from a lock that agrees with pyproject.toml.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from kernel.config import Settings
from kernel.services import kernel_services

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ENV_EXAMPLE = (ROOT / "deploy" / "env.example").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()
GUNICORN_CONF = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
APP_SERVICES = ("api", "worker", "cron", "migrate")  # the Plugboard image
PLUGBOARD = str(Path(sys.executable).parent / "plugboard")

# Settings env.example need not list, and why: compose builds them itself.
BUILT_BY_COMPOSE = {
    "PLUGBOARD_ENV": "always production in the image and in compose",
    "PLUGBOARD_DATA_DIR": "a fixed path inside the container",
    "PLUGBOARD_DATABASE_URL": "built from POSTGRES_APP_PASSWORD (POSTGRES_OWNER_PASSWORD for migrate)",
    "PLUGBOARD_REDIS_URL": "the compose service's address",
    "PLUGBOARD_S3_ENDPOINT": "the compose service's address",
    "PLUGBOARD_S3_SECURE": "plain HTTP on the compose network",
    "PLUGBOARD_S3_ACCESS_KEY": "MINIO_APP_USER, the user minio-init creates",
    "PLUGBOARD_S3_SECRET_KEY": "MINIO_APP_PASSWORD",
}


def _settings_variables() -> set[str]:
    return {f"PLUGBOARD_{field.name.upper()}" for field in dataclasses.fields(Settings)}


def _gunicorn_variables() -> set[str]:
    names = set(re.findall(r'(?:_int|os\.environ\.get)\("([A-Z_]+)"', GUNICORN_CONF))
    return names | set(re.findall(r'os\.environ\["([A-Z_]+)"\]', GUNICORN_CONF))


def _listed_in_env_example(name: str) -> bool:
    return re.search(rf"^#? ?{name}=", ENV_EXAMPLE, re.M) is not None


def test_every_setting_the_app_reads_is_passed_and_documented() -> None:
    variables = _settings_variables()
    assert "PLUGBOARD_TRUSTED_PROXIES" in variables and "PLUGBOARD_DATABASE_PREPARED_STATEMENTS" in variables
    for service in APP_SERVICES:
        passed = set(SERVICES[service]["environment"])
        assert variables - passed == set(), service
        assert {v for v in passed if v.startswith("PLUGBOARD_")} - variables == set(), \
            f"{service} passes a PLUGBOARD_* variable the app does not read"
    assert not set(BUILT_BY_COMPOSE) - variables, "an exclusion names no setting"
    missing = {v for v in variables - set(BUILT_BY_COMPOSE) if not _listed_in_env_example(v)}
    assert missing == set(), "not in deploy/env.example"
    for name in BUILT_BY_COMPOSE:
        assert not _listed_in_env_example(name), f"{name} is set by compose; .env would be ignored"


def test_every_gunicorn_setting_is_passed_to_the_api_and_documented() -> None:
    names = _gunicorn_variables()
    assert {"WEB_CONCURRENCY", "GUNICORN_KEEPALIVE", "GUNICORN_GRACEFUL_TIMEOUT",
            "PROMETHEUS_MULTIPROC_DIR"} <= names
    assert names - set(SERVICES["api"]["environment"]) == set()
    assert {n for n in names if not _listed_in_env_example(n)} == set()
    # gunicorn reads this one itself
    assert "FORWARDED_ALLOW_IPS" in SERVICES["api"]["environment"]
    assert _listed_in_env_example("FORWARDED_ALLOW_IPS")


def test_every_variable_compose_reads_is_in_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_0-9]+)", text))
    required = set(re.findall(r"\$\{([A-Z_0-9]+):\?", text))
    assert {"PLUGBOARD_SECRET_KEY", "POSTGRES_APP_PASSWORD", "POSTGRES_OWNER_PASSWORD",
            "MINIO_APP_PASSWORD"} <= required
    assert {v for v in used if not _listed_in_env_example(v)} == set()
    for name in required:  # required ones are there uncommented, waiting for a value
        assert re.search(rf"^{name}=", ENV_EXAMPLE, re.M), name


def _command(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    assert isinstance(command, list), f"{service}: exec form, so signals reach the process"
    return command


def test_each_service_command_exists_in_the_image() -> None:
    scripts = PYPROJECT["project"]["scripts"]
    lock = (ROOT / "deploy" / "requirements.lock").read_text()
    assert "plugboard" in scripts
    assert re.search(r"^gunicorn==", lock, re.M)  # its console script is in the venv on PATH
    # the gunicorn config the api names is the file the Dockerfile copies there
    api = _command("api")
    assert api[0] == "gunicorn" and api[1:3] == ["--config", "/etc/plugboard/gunicorn.conf.py"]
    assert "COPY deploy/gunicorn.conf.py /etc/plugboard/gunicorn.conf.py" in DOCKERFILE
    assert "deploy/gunicorn.conf.py" in (ROOT / ".dockerignore").read_text()
    assert re.search(r'^CMD \["gunicorn", "--config", "/etc/plugboard/gunicorn.conf.py"\]', DOCKERFILE, re.M)
    for service in ("worker", "cron", "migrate"):
        command = _command(service)
        assert command[0] == "plugboard"
        # the subcommand exists: the installed console script knows it
        done = subprocess.run([PLUGBOARD, *command[1:], "--help"], capture_output=True, text=True,
                              timeout=120, env={"PATH": str(Path(sys.executable).parent)})
        assert done.returncode == 0, (service, done.stderr)
    # the one-off services' scripts and mounted files exist
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), source
    assert SERVICES["minio-init"]["entrypoint"] == ["/bin/sh", "/minio-init.sh"]


def test_start_up_order_runs_one_offs_once_before_the_app() -> None:
    for one_off in ("migrate", "minio-init"):
        assert SERVICES[one_off]["restart"] == "no"
    for service in ("api", "worker", "cron"):
        depends = SERVICES[service]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", service
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert "api" not in depends  # nobody waits on the api to migrate any more
    for service in ("api", "worker"):
        assert SERVICES[service]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"
    assert SERVICES["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for service in ("postgres", "redis", "minio", "api"):
        assert SERVICES[service]["healthcheck"]["test"], service
    # the api no longer migrates on start
    assert "upgrade" not in " ".join(_command("api"))


def test_migrate_runs_as_the_owner_and_the_app_as_the_app_role() -> None:
    owner_url = SERVICES["migrate"]["environment"]["PLUGBOARD_DATABASE_URL"]
    assert owner_url.startswith("postgresql+psycopg://plugboard_owner:${POSTGRES_OWNER_PASSWORD:?")
    for service in ("api", "worker", "cron"):
        url = SERVICES[service]["environment"]["PLUGBOARD_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://plugboard:${POSTGRES_APP_PASSWORD:?"), service
    init = (ROOT / "deploy" / "postgres-init.sql").read_text()
    assert "\\set owner_role plugboard_owner" in init and "\\set app_role plugboard\n" in init
    postgres_env = SERVICES["postgres"]["environment"]
    assert postgres_env["POSTGRES_OWNER_PASSWORD"].startswith("${POSTGRES_OWNER_PASSWORD:?")
    # the app's MinIO keys are the bucket-scoped user's, never root's
    env = SERVICES["api"]["environment"]
    assert "MINIO_APP_USER" in env["PLUGBOARD_S3_ACCESS_KEY"]
    assert "MINIO_APP_PASSWORD" in env["PLUGBOARD_S3_SECRET_KEY"]
    assert "MINIO_ROOT" not in str(SERVICES["api"]["environment"])


def _seconds(duration: str) -> int:
    default = re.fullmatch(r"\$\{[A-Z_]+:-(.+)\}", duration)
    text = default.group(1) if default else duration
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", text)
    assert parts and text, duration
    return int(parts.group(1) or 0) * 60 + int(parts.group(2) or 0)


def _conf_default(name: str) -> int:
    found = re.search(rf'_int\("{name}", ([0-9_]+)\)', GUNICORN_CONF)
    assert found, name
    return int(found.group(1).replace("_", ""))


def test_shutdown_grace_covers_requests_and_jobs(app: Any) -> None:
    assert _seconds(SERVICES["api"]["stop_grace_period"]) >= _conf_default("GUNICORN_GRACEFUL_TIMEOUT") + 5
    longest = max(spec.timeout for _plugin, spec in kernel_services(app).job_specs.values())
    assert longest >= 300
    assert _seconds(SERVICES["worker"]["stop_grace_period"]) > longest
    assert _seconds(SERVICES["postgres"]["stop_grace_period"]) >= 30


def test_logs_are_rotated_and_images_pinned() -> None:
    for name, service in SERVICES.items():
        logging = service.get("logging") or COMPOSE["x-plugboard"]["logging"]
        assert logging["driver"] == "json-file" and logging["options"]["max-size"], name
        assert int(logging["options"]["max-file"].split(":-")[-1].rstrip("}")) >= 2
        image = service.get("image", "")
        if name in APP_SERVICES:
            assert service["build"] == "."
            continue
        tag = image.partition(":")[2]
        assert tag and tag != "latest" and re.search(r"\d+\.\d+|RELEASE\.\d{4}", tag), (name, image)
        assert "deploy" in service and service["deploy"]["resources"]["limits"]["memory"], name
    for name in APP_SERVICES:
        assert SERVICES[name]["deploy"]["resources"]["limits"]["memory"], name


def test_capacity_defaults_fit_postgres() -> None:
    """With the defaults, every process's pool fits max_connections (one api replica)."""
    env = COMPOSE["x-plugboard-environment"]

    def default(value: str) -> int:
        return int(re.fullmatch(r"\$\{[A-Z_]+:-(\d+)\}", value).group(1))  # type: ignore[union-attr]

    per_process = (default(env["PLUGBOARD_DATABASE_POOL_SIZE"])
                   + default(env["PLUGBOARD_DATABASE_MAX_OVERFLOW"]))
    assert per_process >= _conf_default("GUNICORN_THREADS") + 1  # a thread never waits for the pool
    max_workers = _conf_default("GUNICORN_MAX_WORKERS")
    processes = max_workers + 2 + 1 + 1  # api workers, worker + its work horse, cron, migrate
    command = " ".join(SERVICES["postgres"]["command"])
    found = re.search(r"max_connections=\$\{POSTGRES_MAX_CONNECTIONS:-(\d+)\}", command)
    assert found
    max_connections = int(found.group(1))
    reserved = 3  # superuser_reserved_connections: backups and administration
    assert processes * per_process <= max_connections - reserved
    assert SERVICES["postgres"]["shm_size"].endswith("256mb}")
    redis = " ".join(SERVICES["redis"]["command"])
    assert "--maxmemory ${REDIS_MAXMEMORY:-" in redis and "--maxmemory-policy noeviction" in redis
    docs = (ROOT / "docs" / "operations.md").read_text()
    assert "## Capacity" in docs and "POSTGRES_MAX_CONNECTIONS" in docs


def test_dockerfile_builds_from_the_lock_as_a_numeric_user() -> None:
    lines = DOCKERFILE.splitlines()

    def first(pattern: str) -> int:
        return next(i for i, line in enumerate(lines) if re.search(pattern, line))

    base = re.search(r"^ARG PYTHON_IMAGE=python:(\S+)$", DOCKERFILE, re.M)
    assert base and re.fullmatch(r"3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base.group(1))
    # the lock is copied and installed before any code: code edits reuse the layer
    assert first(r"^COPY deploy/requirements.lock") < first(r"--require-hashes") < first(r"^COPY kernel")
    assert re.search(r"--mount=type=cache,target=/root/.cache/pip", DOCKERFILE)
    assert re.search(r"pip install --no-deps --no-build-isolation", DOCKERFILE)
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.M)
    dockerignore = (ROOT / ".dockerignore").read_text()
    for needed in ("deploy/requirements.lock", "kernel", "plugins", "migrations", "hookspecs", "plugboard"):
        assert f"!{needed}\n" in dockerignore, needed


def _locked() -> dict[str, str]:
    text = (ROOT / "deploy" / "requirements.lock").read_text()
    return {name.lower(): version for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


def test_the_lock_agrees_with_pyproject() -> None:
    locked = _locked()
    text = (ROOT / "deploy" / "requirements.lock").read_text()
    assert text.count("--hash=sha256:") >= len(locked)
    build = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    for requirement in [Requirement(r) for r in PYPROJECT["project"]["dependencies"]] + build:
        name = requirement.name.lower()
        assert name in locked, f"{name} is not in deploy/requirements.lock: run make lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), \
            f"{name}=={locked[name]} does not satisfy {requirement}: run make lock"
    rq = Requirement(next(r for r in PYPROJECT["project"]["dependencies"] if r.startswith("rq")))
    assert not rq.specifier.contains("2.4.9")  # cron strings need rq 2.5


@pytest.mark.parametrize("quota, expected", [("max 100000", None), ("200000 100000", 2), ("150000 100000", 2),
                                             ("50000 100000", 1)])
def test_gunicorn_workers_follow_the_cpu_quota(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               quota: str, expected: int | None) -> None:
    # set, so reading the file neither makes a directory nor changes this process's metrics
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    namespace: dict[str, Any] = {"__file__": str(ROOT / "deploy" / "gunicorn.conf.py")}
    exec(compile(GUNICORN_CONF, "gunicorn.conf.py", "exec"), namespace)  # noqa: S102 - our own file
    (tmp_path / "cpu.max").write_text(quota + "\n")
    available = len(os.sched_getaffinity(0))
    cpus = namespace["container_cpus"](tmp_path)
    assert cpus == (available if expected is None else min(expected, available))
    assert namespace["keepalive"] > 60  # above the usual load balancer idle timeout
