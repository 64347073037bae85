"""An S3 server on loopback for the image store's tests: moto's, speaking the S3 REST API over
real HTTP (nothing of ours mocked), one per test session, a fresh bucket per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.support_served import free_port

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "clearance-test", "AWS_SECRET_ACCESS_KEY": "clearance-test-secret"}
_names = itertools.count()


@dataclass(frozen=True)
class Bucket:
    endpoint: str
    name: str
    client: Any
    """A boto3 S3 client on the same server, to look at what the store wrote."""

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listed.get("Contents", []))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """A new bucket, and the environment that points obstore (and so `CLEARANCE_IMAGE_STORE_URL`)
    at the server: the variables a deployment sets for its own S3-compatible store."""
    for name, value in {
        **CREDENTIALS,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT": s3_endpoint,
        "AWS_ALLOW_HTTP": "true",
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    name = f"images-{next(_names)}"
    client.create_bucket(Bucket=name)
    return Bucket(endpoint=s3_endpoint, name=name, client=client)
