"""`atomic_with_files`: the files saved inside a transaction go when it rolls back, and only then."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import transaction

from oms.lib.files import atomic_with_files, saved_in_transaction, signs_urls

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


@pytest.fixture
def storage(tmp_path) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path / "files")


def save(storage, name: str) -> str:
    stored = storage.save(name, ContentFile(b"x"))
    saved_in_transaction(storage, stored)
    return stored


def names(storage) -> list[str]:
    return sorted(storage.listdir("")[1])


def test_a_committed_block_keeps_its_files(storage):
    with atomic_with_files():
        save(storage, "a.txt")

    assert names(storage) == ["a.txt"]


def test_a_failed_block_deletes_its_files_and_reraises(storage):
    with pytest.raises(Boom), atomic_with_files():
        save(storage, "a.txt")
        save(storage, "b.txt")
        raise Boom

    assert names(storage) == []


def test_an_inner_block_that_fails_deletes_only_its_own_files(storage):
    with atomic_with_files():
        save(storage, "outer.txt")
        with pytest.raises(Boom), atomic_with_files():
            save(storage, "inner.txt")
            raise Boom
        save(storage, "after.txt")

    assert names(storage) == ["after.txt", "outer.txt"]


def test_an_outer_failure_deletes_the_files_of_a_finished_inner_block(storage):
    with pytest.raises(Boom), atomic_with_files():
        with atomic_with_files():
            save(storage, "inner.txt")
        assert names(storage) == ["inner.txt"]
        raise Boom

    assert names(storage) == []


def test_outside_a_block_the_caller_owns_its_files(storage):
    with pytest.raises(Boom), transaction.atomic():
        save(storage, "a.txt")
        raise Boom

    assert names(storage) == ["a.txt"]


def test_a_failing_delete_is_logged_and_the_first_error_wins(storage, caplog, monkeypatch):
    def broken_delete(name):
        raise OSError("store unreachable")

    with pytest.raises(Boom), atomic_with_files():
        save(storage, "a.txt")
        monkeypatch.setattr(storage, "delete", broken_delete)
        raise Boom

    assert [r.getMessage() for r in caplog.records if r.name == "oms.lib.files"] == [
        "could not delete a.txt after a rollback; it is an orphan now"
    ]


def test_only_the_s3_backend_signs_links(storage, settings):
    from storages.backends.s3 import S3Storage

    assert signs_urls(storage) is False
    assert signs_urls(S3Storage(bucket_name="b", querystring_auth=True)) is True
    assert signs_urls(S3Storage(bucket_name="b", querystring_auth=False)) is False
