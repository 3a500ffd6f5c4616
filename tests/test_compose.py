"""docker-compose.yml cannot run here (no Docker engine), so its shape is checked by parsing."""

import re
from pathlib import Path

import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())["services"]


def test_every_service_the_readme_names_exists(services):
    readme = (BASE_DIR / "README.md").read_text()
    named = set(re.findall(r"^\| `([a-z]+)` \|", readme, flags=re.MULTILINE))

    assert named == {"postgres", "redis", "web", "worker", "beat"}
    assert named <= set(services)


def test_every_service_has_a_health_check(services):
    missing = sorted(name for name, service in services.items() if "healthcheck" not in service)

    assert missing == []


def test_web_worker_and_beat_share_one_image_and_one_configuration(services):
    shapes = {
        name: (
            services[name]["build"],
            services[name]["image"],
            services[name]["env_file"],
            services[name]["environment"],
        )
        for name in APP_SERVICES
    }

    assert len(set(map(repr, shapes.values()))) == 1
    assert services["web"]["environment"]["DJANGO_DEBUG"] == "false"


def test_app_services_wait_for_healthy_postgres_and_redis(services):
    for name in APP_SERVICES:
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }


def test_data_lives_in_named_volumes(services):
    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert services["redis"]["volumes"] == ["redis-data:/data"]


def test_dockerfile_builds_the_image_the_services_run(services):
    dockerfile = (BASE_DIR / "Dockerfile").read_text()

    assert "FROM python:3.11" in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    assert "USER groupcare" in dockerfile
    assert services["web"]["build"] == "."
