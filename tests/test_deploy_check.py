"""With production values set, `manage.py check --deploy` has nothing to say."""

import secrets
import subprocess
import sys

from django.conf import settings


def manage(*args: str, tmp_path, **env: str) -> subprocess.CompletedProcess:
    clean_env = {"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_no_issues_with_production_settings(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level=WARNING",
        tmp_path=tmp_path,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="erp.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = manage("check", tmp_path=tmp_path, DEBUG="false", ALLOWED_HOSTS="erp.example.com")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr
