"""The deployment files: docker-compose.yml, Dockerfile, .env.example, .dockerignore.

Where the Docker CLI has the compose plugin, ``docker compose config`` validates the file
(with ``.env.example`` as the ``.env``). This machine has neither the plugin nor an engine,
and PyYAML is not a dependency, so the structural checks read the compose file with a
small reader for the YAML subset it uses (block mappings and sequences, flow lists,
quoted and plain scalars, comments) and assert what an operator relies on: the three
services, the database healthcheck and named volume, the start order, two replicas, the
restart policies, configuration from ``.env``; a slim non-root image built from the
pinned lock file with no secret inside.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
SECRETS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN")


# ---- a reader for the YAML subset docker-compose.yml uses --------------------------------


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return (
            json.loads(text)
            if inner.startswith('"') or not inner
            else [_scalar(part) for part in inner.split(",")]
        )
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def read_yaml_subset(source: str) -> Any:
    """Block mappings/sequences of scalars and flow lists; anything else is an error."""
    lines = [
        (len(raw) - len(raw.lstrip(" ")), raw.strip())
        for raw in (_strip_comment(line) for line in source.splitlines())
        if raw.strip()
    ]
    assert not any("\t" in text for _, text in lines), "tabs are not YAML indentation"
    pos = 0

    def block(indent: int) -> Any:
        nonlocal pos
        if lines[pos][1].startswith("- "):
            items: list[Any] = []
            while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
                item = lines[pos][1][2:]
                pos += 1
                if re.match(r"^[\w.-]+:(\s|$)", item):
                    raise AssertionError(f"mapping items in a list are not supported: {item}")
                items.append(_scalar(item))
            return items
        mapping: dict[str, Any] = {}
        while pos < len(lines) and lines[pos][0] == indent:
            key, sep, rest = lines[pos][1].partition(":")
            assert sep, f"expected 'key: value' at {lines[pos][1]!r}"
            key = str(_scalar(key))
            assert key not in mapping, f"duplicate key {key!r}"
            pos += 1
            if rest.strip():
                mapping[key] = _scalar(rest)
            elif pos < len(lines) and lines[pos][0] > indent:
                mapping[key] = block(lines[pos][0])
            else:
                mapping[key] = None
        if pos < len(lines):
            assert lines[pos][0] < indent, f"bad indentation at {lines[pos][1]!r}"
        return mapping

    doc = block(0)
    assert pos == len(lines)
    return doc


def test_the_subset_reader_reads_what_it_claims() -> None:
    """The reader handles nesting, lists, flow lists, quotes and comments (and rejects
    bad indentation), so the structural checks below read the file faithfully."""
    doc = read_yaml_subset(
        "a: 1  # note\nb:\n  c: \"x # not a comment\"\n  d:\n    - one\n    - 'two'\n"
        'e: ["CMD", "pg_isready"]\nf:\n'
    )
    assert doc == {
        "a": "1",
        "b": {"c": "x # not a comment", "d": ["one", "two"]},
        "e": ["CMD", "pg_isready"],
        "f": None,
    }
    with pytest.raises(AssertionError):
        read_yaml_subset("a:\n    b: 1\n  c: 2\n")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = read_yaml_subset(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


# ---- docker-compose.yml -----------------------------------------------------------------


def test_compose_has_database_migration_and_two_wirewatch_replicas(compose: dict[str, Any]) -> None:
    """db (PostgreSQL with a pg_isready healthcheck and a named volume), migrate (runs once
    after the database is healthy) and wirewatch (two replicas, after a successful
    migration, restarted on failure, probed on /readyz)."""
    services = compose["services"]
    assert set(services) == {"db", "migrate", "wirewatch"}

    db = services["db"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "the database keeps its data in a named volume"
    assert db["restart"] in ("unless-stopped", "always")

    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"

    app = services["wirewatch"]
    assert app["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert app["deploy"]["replicas"] == "2"
    assert app["restart"] == "on-failure"
    assert "ports" not in app, "fixed host ports would clash between replicas"
    assert "/readyz" in " ".join(app["healthcheck"]["test"])
    assert app["environment"]["WIREWATCH_HEALTH__HOST"] == "0.0.0.0"
    for name in ("migrate", "wirewatch"):
        service = services[name]
        assert service["env_file"] == ".env"
        assert service["image"] == services["migrate"]["image"]
        assert service.get("build") == ".", f"{name} builds the image it runs"
        url = service["environment"]["WIREWATCH_DATABASE__URL"]
        assert url.startswith("postgresql+asyncpg://") and "@db:5432/" in url


def test_compose_variables_are_documented_and_the_password_is_required(
    compose: dict[str, Any],
) -> None:
    """Every ${VAR} the compose file uses is in .env.example, and a missing database
    password stops compose with a message instead of starting an open database."""
    text = COMPOSE.read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{(\w+)", text))
    documented = set(re.findall(r"^#?\s*(\w+)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M))
    assert used <= documented, used - documented
    password = compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:?")


def test_env_example_documents_every_secret_and_holds_none() -> None:
    """.env.example names each platform secret with an empty value and keeps JSON logs on;
    nothing in it looks like a real token."""
    env = ENV_EXAMPLE.read_text(encoding="utf-8")
    for name in SECRETS:
        assert re.search(rf"^{name}=$", env, re.M), f"{name} is documented, empty"
    assert re.search(r"^WIREWATCH_LOG_FORMAT=json$", env, re.M)
    assert not re.search(r"xox[abp]-\w|xapp-\w|[\w-]{24}\.[\w-]{6}\.[\w-]{27}", env)
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


# ---- Dockerfile ----------------------------------------------------------------------------


def test_dockerfile_is_slim_non_root_pinned_and_free_of_secrets() -> None:
    """A slim Python base, the pinned requirements.lock installed before the code, a
    non-root USER for the final stage, no secret in ENV/ARG, and wirewatch as entrypoint;
    the lock file pins every dependency exactly."""
    docker = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [
        line.strip()
        for line in docker.replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    froms = [i for i in instructions if i.upper().startswith("FROM ")]
    assert froms and all("-slim" in f for f in froms)
    final_stage = instructions[instructions.index(froms[-1]) :]
    users = [i.split()[1] for i in final_stage if i.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the final stage runs as a non-root user"
    assert any("requirements.lock" in i and "-r requirements.lock" in i for i in instructions)
    assert any(i.startswith("COPY requirements.lock") for i in instructions)
    for i in instructions:
        if i.upper().startswith(("ENV ", "ARG ")):
            assert not re.search(r"TOKEN|SECRET|PASSWORD", i, re.I), i
    assert not re.search(r"^\s*COPY\s+.*\.env\b", docker, re.M)
    assert any(i.startswith("ENTRYPOINT") and "wirewatch" in i for i in instructions)

    pins = [
        line
        for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.+!-]+", p) for p in pins), pins


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build_context() -> None:
    """.env, the virtualenv, SQLite data and git history never reach the image builder."""
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".env", ".venv", "data", ".git"} <= ignored


# ---- docker compose config, where available ----------------------------------------------


def _compose_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_available(), reason="the Docker CLI here has no compose plugin")
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    """``docker compose config`` (no engine needed) validates and resolves the file."""
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    shutil.copy(DOCKERFILE, tmp_path / "Dockerfile")
    result = subprocess.run(
        ["docker", "compose", "config", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
