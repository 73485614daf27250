"""The production recipe (docs/deploy.md and deploy/) stays true: the gunicorn file loads as gunicorn loads it and
sets only settings gunicorn knows, and every file the docs and README name exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
# Paths in the repository as the docs write them: deploy/..., docs/..., app/..., tests/..., wsgi.py, config.py.
PATH_RE = re.compile(r"(?<![\w/.-])((?:deploy|docs|app|tests)/[\w./-]+\.\w+|wsgi\.py|config\.py)")


def _gunicorn_settings() -> dict:
    from gunicorn.app.base import Application

    class Probe(Application):
        def init(self, parser, opts, args):
            return None

        def load(self):
            return None

        def load_config(self):
            self.load_config_from_file(str(ROOT / "deploy" / "gunicorn.conf.py"))

    probe = Probe()
    return {name: setting.get() for name, setting in probe.cfg.settings.items()}


def test_gunicorn_config_loads_with_sync_workers_on_loopback(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    settings = _gunicorn_settings()
    assert settings["worker_class"] == "sync"
    assert settings["workers"] >= 3  # 2 x cores + 1
    assert settings["bind"] == ["127.0.0.1:8000"]  # only nginx reaches it
    assert settings["timeout"] == 30 and settings["forwarded_allow_ips"] == ["127.0.0.1"]
    monkeypatch.setenv("WEB_CONCURRENCY", "7")
    assert _gunicorn_settings()["workers"] == 7


def test_gunicorn_config_sets_only_settings_gunicorn_knows():
    from gunicorn.config import KNOWN_SETTINGS

    known = {setting.name for setting in KNOWN_SETTINGS}
    namespace: dict = {}
    exec(compile((ROOT / "deploy" / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)  # noqa: S102
    names = {k for k, v in namespace.items() if not k.startswith("_") and not callable(v)
             and not hasattr(v, "__spec__")}
    assert names and names <= known, f"not gunicorn settings: {sorted(names - known)}"


def test_nginx_buffers_requests_and_matches_the_upload_limit():
    from app.core.uploads import DEFAULT_UPLOAD_MAX_CONTENT_LENGTH

    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"^\s*proxy_request_buffering on;", conf, re.M)
    assert re.search(r"^\s*proxy_buffering on;", conf, re.M)
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf  # replaced, so PROXY_FIX_X_FOR=1 is exact
    size = int(re.search(r"client_max_body_size (\d+)m;", conf).group(1))
    assert size * 1024 * 1024 > DEFAULT_UPLOAD_MAX_CONTENT_LENGTH
    env = (ROOT / "deploy" / "tsudoi.env.example").read_text()
    assert "PROXY_FIX_X_FOR=1" in env and "REDIS_URL=" in env


def test_the_units_run_the_commands_that_exist():
    web = (ROOT / "deploy" / "tsudoi.service").read_text()
    assert "gunicorn --config deploy/gunicorn.conf.py wsgi:app" in web
    jobs = (ROOT / "deploy" / "tsudoi-jobs.service").read_text()
    assert "flask jobs run-due" in jobs and "FLASK_APP=wsgi.py" in jobs
    from app.core.commands import jobs_bp

    assert "run-due" in jobs_bp.cli.commands and jobs_bp.cli.name == "jobs"
    assert "OnCalendar=*-*-* *:*:00" in (ROOT / "deploy" / "tsudoi-jobs.timer").read_text()
    assert "deploy/backup.sh" in (ROOT / "deploy" / "tsudoi-backup.service").read_text()
    assert subprocess.run(["sh", "-n", str(ROOT / "deploy" / "backup.sh")], check=False).returncode == 0


@pytest.mark.parametrize("document", ["docs/deploy.md", "README.md", "deploy/nginx.conf", "deploy/gunicorn.conf.py",
                                      "deploy/tsudoi.env.example", "deploy/tsudoi-backup.service"])
def test_every_file_the_recipe_names_exists(document):
    text = (ROOT / document).read_text()
    named = set(PATH_RE.findall(text))
    if document == "README.md":  # its production section; the rest of the README is others' to check
        named = {p for p in named if p.startswith(("deploy/", "docs/deploy"))}
    if document in {"docs/deploy.md", "README.md"}:
        assert named, "no file named"
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"{document} names files that do not exist: {missing}"


def test_the_readme_links_the_recipe_and_the_doctor():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/deploy.md)" in readme and "flask doctor" in readme
