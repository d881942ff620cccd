"""A real moto S3 server in a subprocess, for tests of the S3 target.

moto honours If-Match / If-None-Match, but checks the condition and then writes
without a lock, and `moto_server` serves requests on threads: two concurrent
conditional PUTs on one key can both succeed (seen in about 3 of 20 runs of the
20-deployer test). Real S3 evaluates the condition atomically, so by default the
server here is moto's own app behind one lock around each request.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import Sh

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def use_test_credentials(env: dict[str, str]) -> None:
    """Point a subprocess environment at the test server's credentials, and nothing else."""
    env.update(CREDENTIALS)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_REGION"):
        env.pop(name, None)


def s3_client(endpoint: str) -> Any:
    """A boto3 client for the test server at `endpoint`."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


# moto's `moto_server` entry point (moto/server.py), with each request under one lock.
_SERIALIZED = """
import sys, threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app)

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()

def serialized(environ, start_response):
    with lock:
        return list(app(environ, start_response))

run_simple(sys.argv[1], int(sys.argv[2]), serialized, threaded=True,
           request_handler=MotoRequestHandler)
"""


def unused_port() -> int:
    """A TCP port nothing listens on (bound to port 0, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def moto_server(*, atomic: bool = True, timeout: float = 30.0) -> Iterator[str]:
    """Run moto's S3 server on a free port; yield its endpoint URL; stop it at the end.

    `atomic=False` runs the stock `moto_server` binary, whose conditional writes race.
    """
    port = unused_port()
    if atomic:
        cmd = [sys.executable, "-c", _SERIALIZED, "127.0.0.1", str(port)]
    else:
        cmd = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout
            while not _answers(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    output = log.read().decode(errors="replace")
                    raise RuntimeError(f"moto_server did not start on port {port}:\n{output}")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# The bucket the shared `s3_endpoint` fixture creates.
BUCKET = "models"


# Fixtures of the S3 end-to-end modules (this module is a pytest plugin: conftest.py's
# `pytest_plugins`). A module that defines its own `sh` uses that one instead.
@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    """A shell whose AWS credentials are the test server's fake ones."""
    shell = Sh(tmp_path_factory.mktemp("home"))
    use_test_credentials(shell.env)
    return shell


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server for the module, with BUCKET created."""
    with moto_server() as endpoint:
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
