"""The one seam to S3: a thin client whose errors are TargetErrors.

Every botocore call goes through `Client`, which sets short timeouts (an
unreachable endpoint fails in seconds, not minutes) and turns botocore's
exceptions into one-line messages with a hint. Two outcomes callers handle
themselves come back as `Missing` (no such key) and `Conflict` (a conditional
write lost). boto3 is imported on first use.
"""

from __future__ import annotations

import datetime
import email.utils
import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from runner.deploy.targets.base import TargetError
from runner.fsutil import sha256_stream

READ_TIMEOUT = 10.0  # seconds without a byte of reply before a request is tried again

_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "Forbidden"}
_CREDENTIALS_HINT = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment; "
    "in CI, pass them from repository secrets"
)


class Missing(Exception):
    """The key does not exist."""


class Unsent(TargetError):
    """The request never reached the server (no connection): it performed nothing."""


class Conflict(Exception):
    """A conditional write lost: the key exists (If-None-Match) or changed (If-Match)."""


class Client:
    """A boto3 S3 client for one bucket; safe to share between threads."""

    def __init__(
        self,
        bucket: str,
        where: str,
        *,
        endpoint_url: str | None,
        region: str | None,
        read_timeout: float = READ_TIMEOUT,
    ):
        self.bucket = bucket
        self.read_timeout = read_timeout
        self.where = where
        self.endpoint_url = endpoint_url
        self.region = region
        self._client: Any = None
        self._init_lock = threading.Lock()

    def _raw(self) -> Any:
        with self._init_lock, self.errors("connect"):
            if self._client is None:
                config = self._module("botocore.config").Config(
                    connect_timeout=3,
                    read_timeout=self.read_timeout,
                    retries={"max_attempts": 2, "mode": "standard"},
                    max_pool_connections=32,
                    # S3-compatible servers want path-style addressing, and some reject
                    # the optional checksums newer botocore sends by default.
                    s3={"addressing_style": "path"} if self.endpoint_url else None,
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                )
                session = self._module("boto3").session.Session()
                self._client = session.client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    region_name=self.region or session.region_name or "us-east-1",
                    config=config,
                )
            return self._client

    def _module(self, name: str) -> Any:
        """boto3 or botocore, imported on first use; TargetError when not installed."""
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            raise TargetError(
                f"{self.where}: boto3 is not installed ({exc})",
                "install it beside mlops-runner: pip install boto3",
            ) from exc

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Turn botocore's exceptions into TargetError (or Missing / Conflict)."""
        bx = self._module("botocore.exceptions")

        where = self.endpoint_url or "AWS"
        try:
            yield
        except bx.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                raise TargetError(
                    f"{self.where}: bucket '{self.bucket}' does not exist at {where}",
                    f"create it (aws s3 mb s3://{self.bucket}) or fix the target url in mlops.yaml",
                ) from exc
            if code in ("NoSuchKey", "404", "NotFound"):
                raise Missing(code) from exc
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                raise Conflict(code) from exc
            message = error.get("Message") or str(exc)
            if code in _DENIED:
                raise TargetError(
                    f"{self.where}: access denied to {action} ({code}: {message})",
                    f"check the credentials in the environment and the policy of {self.bucket}",
                ) from exc
            raise TargetError(
                f"{self.where}: cannot {action} ({code or status}: {message})",
                "the S3 server's own message is shown above",
            ) from exc
        except (bx.NoCredentialsError, bx.PartialCredentialsError) as exc:
            raise TargetError(
                f"{self.where}: no AWS credentials found to {action}", _CREDENTIALS_HINT
            ) from exc
        except bx.ReadTimeoutError as exc:
            raise TargetError(
                f"{self.where}: the S3 endpoint {where} did not answer in time to {action} ({exc})",
                "the server is slow or overloaded; check it, then run the command again",
            ) from exc
        except (bx.EndpointConnectionError, bx.ConnectionError, bx.HTTPClientError) as exc:
            # Never connected: the server cannot have performed the request.
            unsent = isinstance(exc, bx.EndpointConnectionError)
            raise (Unsent if unsent else TargetError)(
                f"{self.where}: cannot reach the S3 endpoint {where} to {action}: {exc}",
                "check endpoint_url in mlops.yaml and that the server is up and reachable",
            ) from exc
        except bx.BotoCoreError as exc:
            raise TargetError(f"{self.where}: cannot {action}: {exc}") from exc

    def head(self, key: str, action: str) -> dict[str, str] | None:
        """The user metadata of `key`, or None when it does not exist."""
        try:
            with self.errors(action):
                meta = self._raw().head_object(Bucket=self.bucket, Key=key)["Metadata"]
        except Missing:
            return None
        return {str(k): str(v) for k, v in meta.items()}

    def get(self, key: str, action: str) -> tuple[bytes, str]:
        """The bytes and ETag of `key`; Missing when it does not exist."""
        with self.errors(action):
            response = self._raw().get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read(), str(response["ETag"])

    def get_aged(self, key: str, action: str) -> tuple[bytes, str, float]:
        """The bytes and ETag of `key`, and its age in seconds by the server's clock
        (the response's Date against the object's LastModified); Missing when absent."""
        with self.errors(action):
            response = self._raw().get_object(Bucket=self.bucket, Key=key)
            body = response["Body"].read()
        date = response["ResponseMetadata"].get("HTTPHeaders", {}).get("date")
        now = (
            email.utils.parsedate_to_datetime(date)
            if date
            else datetime.datetime.now(datetime.timezone.utc)  # no Date header: ours
        )
        age = (now - response["LastModified"]).total_seconds()
        return body, str(response["ETag"]), age

    def sha256(self, key: str, action: str) -> str | None:
        """The sha256 of the bytes stored at `key` (streamed), or None when missing."""
        try:
            with self.errors(action):
                body = self._raw().get_object(Bucket=self.bucket, Key=key)["Body"]
                try:
                    return sha256_stream(body)
                finally:
                    body.close()
        except Missing:
            return None

    def put(
        self, key: str, body: bytes | IO[bytes], action: str, sha256: str = "", **conditions: str
    ) -> str:
        """Write `key`, with `IfMatch` / `IfNoneMatch` conditions; Conflict when one fails.
        Returns the ETag of what was written."""
        metadata = {"sha256": sha256} if sha256 else {}
        with self.errors(action):
            response = self._raw().put_object(
                Bucket=self.bucket, Key=key, Body=body, Metadata=metadata, **conditions
            )
        return str(response["ETag"])

    def delete(self, key: str, action: str, **conditions: str) -> None:
        """Delete `key`, with an `IfMatch` condition; Conflict when it fails."""
        with self.errors(action):
            self._raw().delete_object(Bucket=self.bucket, Key=key, **conditions)

    def keys(self, prefix: str, action: str) -> list[str]:
        """Every key below `prefix`, in order."""
        found: list[str] = []
        with self.errors(action):
            pages = (
                self._raw()
                .get_paginator("list_objects_v2")
                .paginate(Bucket=self.bucket, Prefix=prefix)
            )
            for page in pages:
                found.extend(str(item["Key"]) for item in page.get("Contents", []))
        return sorted(found)

    def any_key(self, prefix: str) -> bool:
        with self.errors("list the stored versions"):
            page = self._raw().list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        return bool(page.get("KeyCount") or page.get("Contents"))
