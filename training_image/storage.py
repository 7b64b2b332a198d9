"""Where the container reads datasets and writes artifacts: a local folder or an S3 bucket.

Both adapters speak in keys (`datasets/<id>/<file>`, `jobs/<id>/<artifact>`), so the
rest of the container never knows which one it has.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol

from training_image.errors import StorageError


class Storage(Protocol):
    def exists(self, key: str) -> bool: ...

    def read_bytes(self, key: str) -> bytes: ...

    def local_path(self, key: str, workdir: Path) -> Path:
        """A local file holding the object: the file itself, or a download into `workdir`."""

    def write_bytes(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def write_file(self, key: str, path: Path, *, content_type: str) -> None: ...


class LocalStorage:
    """A folder: key `a/b.csv` is the file `<root>/a/b.csv`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        # A key must stay inside the folder, whatever it contains.
        if path != self.root and self.root not in path.parents:
            raise StorageError(f"The storage key {key!r} points outside the storage folder.")
        return path

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"The file {key!r} is not in the storage.") from None

    def local_path(self, key: str, workdir: Path) -> Path:
        path = self.path(key)
        if not path.is_file():
            raise StorageError(f"The file {key!r} is not in the storage.")
        return path

    def write_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)

    def write_file(self, key: str, path: Path, *, content_type: str) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp,
            open(path, "rb") as source,
        ):
            shutil.copyfileobj(source, tmp)
        os.replace(tmp.name, target)


class S3Storage:
    """A bucket, through boto3 (which honours AWS_ENDPOINT_URL and AWS_DEFAULT_REGION)."""

    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
        return self._client

    def _missing(self, error: Exception) -> bool:
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        return code in {"404", "NoSuchKey", "NotFound"}

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if self._missing(error):
                return False
            raise
        return True

    def read_bytes(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if self._missing(error):
                raise StorageError(f"The file {key!r} is not in the storage.") from None
            raise

    def local_path(self, key: str, workdir: Path) -> Path:
        from botocore.exceptions import ClientError

        target = workdir / "download" / Path(key).name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Streams to disk in parts: the dataset is never held in memory twice.
            self.client.download_file(self.bucket, key, str(target))
        except ClientError as error:
            if self._missing(error):
                raise StorageError(f"The file {key!r} is not in the storage.") from None
            raise
        return target

    def write_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def write_file(self, key: str, path: Path, *, content_type: str) -> None:
        self.client.upload_file(
            str(path), self.bucket, key, ExtraArgs={"ContentType": content_type}
        )


def open_storage(kind: str, location: str) -> Storage:
    """The storage adapter for `kind` ("local" or "s3") at `location` (folder or bucket)."""
    if kind == "local":
        return LocalStorage(location)
    if kind == "s3":
        return S3Storage(location)
    raise ValueError(f"unknown storage kind {kind!r}")
