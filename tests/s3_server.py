"""An S3 server for the tests, as a pytest plugin (`pytest_plugins = ["tests.s3_server"]`).

moto's server mode runs in this process but is reached over real HTTP, so the adapter goes through
botocore's whole stack: signing, the connection pool, retries, error parsing. Setting
LW_TEST_S3_ENDPOINT_URL (e.g. a MinIO, with credentials in the usual AWS variables) uses that
server instead. moto keeps lifecycle rules but never expires objects, and does not refuse an
expired presigned URL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, cast

import pytest
from moto.server import ThreadedMotoServer
from mypy_boto3_s3 import S3Client

from app.infrastructure.images.s3 import build_s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

ENDPOINT_VARIABLE = "LW_TEST_S3_ENDPOINT_URL"
_DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Anything that would make botocore look past the dummy credentials (or fail on a missing profile).
_OTHER_CREDENTIALS = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE")


@pytest.fixture(scope="session")
def s3_endpoint_url() -> Iterator[str]:
    """The endpoint of the session's S3 server; moto is started here and stopped at the end."""
    external = os.environ.get(ENDPOINT_VARIABLE)
    if external:
        yield external
        return
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _DUMMY_CREDENTIALS.items():
            patch.setenv(name, value)
        for name in _OTHER_CREDENTIALS:
            patch.delenv(name, raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


class MakeClient(Protocol):
    def __call__(
        self,
        endpoint_url: str,
        *,
        connect_timeout: float = ...,
        read_timeout: float = ...,
        max_attempts: int = ...,
    ) -> S3Client: ...


def client_for(
    endpoint_url: str,
    *,
    connect_timeout: float = 2.0,
    read_timeout: float = 10.0,
    max_attempts: int = 2,
) -> S3Client:
    """A client as the service builds it; the defaults are patient enough for a loaded CI box."""
    return build_s3_client(
        endpoint_url,
        None,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_attempts=max_attempts,
    )


@pytest.fixture
def make_s3_client(s3_endpoint_url: str) -> MakeClient:
    """Builds clients for other endpoints, signed with the session's credentials."""
    return client_for


@pytest.fixture
def s3_client(s3_endpoint_url: str) -> S3Client:
    return client_for(s3_endpoint_url)


@pytest.fixture
def s3_bucket(s3_client: S3Client) -> Iterator[str]:
    """A new, empty bucket for this test, emptied and removed afterwards."""
    name = f"lw-test-{secrets.token_hex(8)}"
    create_bucket(s3_client, name)
    yield name
    remove_bucket(s3_client, name)


def create_bucket(client: S3Client, name: str) -> None:
    region = client.meta.region_name
    if region in (None, "us-east-1"):
        client.create_bucket(Bucket=name)
    else:
        location = cast("BucketLocationConstraintType", region)
        client.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": location}
        )


def remove_bucket(client: S3Client, name: str) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        objects: list[ObjectIdentifierTypeDef] = [
            {"Key": item["Key"]} for item in page.get("Contents", []) if "Key" in item
        ]
        if objects:
            client.delete_objects(Bucket=name, Delete={"Objects": objects, "Quiet": True})
    client.delete_bucket(Bucket=name)
