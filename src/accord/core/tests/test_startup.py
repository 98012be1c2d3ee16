"""Start-up rules: outside demo mode Accord needs a secret key of its own."""

import os
import subprocess
import sys


def _run(env_extra, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.update({"ACCORD_DATA_DIR": str(tmp_path), **env_extra})
    return subprocess.run(
        [sys.executable, "-m", "accord.cli", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_refuses_to_start_without_a_secret_key(tmp_path):
    result = _run({}, tmp_path)
    assert result.returncode != 0
    assert "ACCORD_SECRET_KEY is not set" in result.stderr


def test_demo_mode_makes_and_keeps_a_key_of_its_own(tmp_path):
    assert _run({"ACCORD_DEMO": "1"}, tmp_path).returncode == 0
    key = (tmp_path / "demo-secret-key").read_text()
    assert len(key) >= 50
    assert _run({"ACCORD_DEMO": "1"}, tmp_path).returncode == 0
    assert (tmp_path / "demo-secret-key").read_text() == key


def test_starts_with_a_secret_key(tmp_path):
    result = _run({"ACCORD_SECRET_KEY": "k" * 50}, tmp_path)
    assert result.returncode == 0, result.stderr


def test_warm_up_runs_every_task_in_a_thread_of_its_own(monkeypatch, caplog):
    import threading

    from accord.core import warmup

    ran = []

    def fails():
        raise RuntimeError("no database")

    monkeypatch.setattr(warmup, "_tasks", [])
    warmup.register(lambda: ran.append(threading.current_thread().name))
    warmup.register(fails)
    warmup.register(lambda: ran.append("after"))
    thread = warmup.start()
    thread.join(10)
    assert ran == ["accord-warmup", "after"]  # a failing task does not stop the rest
    assert "Warm-up task" in caplog.text and "fails" in caplog.text


def test_no_warm_up_thread_when_nothing_is_registered(monkeypatch):
    from accord.core import warmup

    monkeypatch.setattr(warmup, "_tasks", [])
    assert warmup.start() is None
