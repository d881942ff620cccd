"""Two jobs push the same run-cache entries to one S3 remote at once; a third clone restores.

DVC copies each run-cache file (`runs/<key>/<value>`) and each object to the remote as
a whole: an S3 PUT of one object, or a temporary file renamed into place on a local
remote. Both names are digests of the content, so concurrent pushes of the same entry
write the same bytes to the same key and the last one wins: nothing can be half
written. This test checks that on the moto S3 server.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runner.pipeline.runcache import unshared
from s3server import CREDENTIALS, moto_server, s3_client, use_test_credentials

STAGES = 6


def _dvc(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _project(root: Path, endpoint: str, env: dict[str, str]) -> None:
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    _ok(_dvc("init", "-q", cwd=root, env=env))
    _ok(_dvc("remote", "add", "-d", "shared", "s3://runs/store", cwd=root, env=env))
    _ok(_dvc("remote", "modify", "shared", "endpointurl", endpoint, cwd=root, env=env))
    stages = "\n".join(
        f"  s{i}:\n"
        f"    cmd: python -c \"open('out{i}.txt','w').write(open('in.txt').read()*{i + 1})\"\n"
        f"    deps: [in.txt]\n    outs: [out{i}.txt]"
        for i in range(STAGES)
    )
    (root / "dvc.yaml").write_text(f"stages:\n{stages}\n", "utf-8")
    (root / "in.txt").write_text("shared input\n" * 1000, "utf-8")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "stages"], cwd=root, check=True)


def _runs(root: Path) -> dict[str, bytes]:
    runs = root / ".dvc/cache/runs"
    return {p.relative_to(runs).as_posix(): p.read_bytes() for p in runs.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_concurrent_pushes_of_one_entry_leave_the_remote_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    use_test_credentials(env)
    # `unshared` reads the remote from this process.
    for name in [*CREDENTIALS, "AWS_EC2_METADATA_DISABLED"]:
        monkeypatch.setenv(name, env[name])
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    with moto_server() as endpoint:
        s3 = s3_client(endpoint)
        s3.create_bucket(Bucket="runs")
        first = tmp_path / "a"
        _project(first, endpoint, env)
        _ok(_dvc("repro", cwd=first, env=env))
        second = tmp_path / "b"
        shutil.copytree(first, second, symlinks=True)
        local = _runs(first)
        assert len(local) == STAGES and _runs(second) == local
        assert unshared(first) == sorted(f"runs/{rel}" for rel in local)
        pushes = [
            subprocess.Popen(
                [sys.executable, "-m", "dvc", "push", "--run-cache"],
                cwd=root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for root in (first, second)
        ]
        outputs = [p.communicate(timeout=300)[0] for p in pushes]
        assert [p.returncode for p in pushes] == [0, 0], outputs
        assert unshared(first) == unshared(second) == []

        keys = [
            obj["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket="runs")
            for obj in page.get("Contents", [])
        ]
        remote_runs = {k.removeprefix("store/runs/"): k for k in keys if "/runs/" in k}
        assert set(remote_runs) == set(local)
        for rel, key in remote_runs.items():
            assert s3.get_object(Bucket="runs", Key=key)["Body"].read() == local[rel]
        objects = [k for k in keys if k.startswith("store/files/md5/")]
        assert len(objects) == STAGES
        for key in objects:
            body = s3.get_object(Bucket="runs", Key=key)["Body"].read()
            digest = key.removeprefix("store/files/md5/").replace("/", "")
            assert hashlib.md5(body).hexdigest() == digest

        third = tmp_path / "c"
        subprocess.run(["git", "clone", "-q", str(first), str(third)], check=True)
        _ok(_dvc("pull", "--run-cache", "--allow-missing", cwd=third, env=env))
        said = _ok(_dvc("repro", "--pull", cwd=third, env=env))
        assert said.count("is cached - skipping run") == STAGES
        assert "Running stage" not in said.replace("is cached", "")
        for i in range(STAGES):
            assert (third / f"out{i}.txt").read_text("utf-8") == "shared input\n" * 1000 * (i + 1)
