"""Backups (create_backup, list_backups, delete_backup) and aliases (create_alias, switch_alias,
delete_alias, list_aliases) against a live server: what each returns, that an alias routes item
and query calls to its collection, and the errors of bad input (which change nothing)."""
import datetime

import grpc
import numpy as np
import pytest

from bottleneck_client import Alias, Backup, BackupCollection, BottleneckError
from conftest import synthetic_images


def upsert_items(client, collection, prefix, n, seed):
    labels = np.arange(n) % 4
    result = client.upsert(collection, [f"{prefix}{i}" for i in range(n)],
                           images=synthetic_images(labels, seed=seed), labels=labels)
    assert result.upserted == n


def backup_names(client):
    return [b.name for b in client.list_backups()]


def test_backup_create_list_delete(client, served):
    upsert_items(client, served, "it-", 30, seed=1)
    name = served[:50] + "-bk"
    backup = client.create_backup(name)
    assert isinstance(backup, Backup)
    assert backup.name == name
    assert backup.path.endswith("/backups/" + name)
    assert backup.create_time is not None
    assert abs(backup.create_time - datetime.datetime.now(datetime.timezone.utc)) < \
        datetime.timedelta(minutes=5)
    assert backup.store_sequence > 0
    assert backup.size_bytes > 0
    mine = [c for c in backup.collections if c.name == served]
    assert mine == [BackupCollection(served, 30, 1)]
    listed = {b.name: b for b in client.list_backups()}
    assert listed[name] == backup
    # An existing name and malformed names: refused, nothing created.
    with pytest.raises(BottleneckError) as error:
        client.create_backup(name)
    assert error.value.code == grpc.StatusCode.ALREADY_EXISTS
    for bad in ["../up", "a/b", ".hidden"]:
        with pytest.raises(BottleneckError) as error:
            client.create_backup(bad)
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT, bad
        with pytest.raises(BottleneckError) as error:
            client.delete_backup(bad)
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT, bad
    with pytest.raises(BottleneckError) as error:
        client.delete_backup(name + "-nope")
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    assert f"backup '{name}-nope' not found" in error.value.message
    assert name in backup_names(client)

    deleted = client.delete_backup(name)
    assert deleted.name == name and deleted.path == backup.path
    assert deleted.store_sequence == backup.store_sequence
    assert name not in backup_names(client)
    with pytest.raises(BottleneckError) as error:
        client.delete_backup(name)
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    # The store is untouched: the items are all there.
    assert client.count_items(served) == 30


def test_aliases_route_item_and_query_calls(client, served):
    blue, green = served, served[:55] + "-green"
    client.create_collection(green, image=(8, 8, 1))
    upsert_items(client, blue, "blue-", 12, seed=2)
    upsert_items(client, green, "green-", 5, seed=3)
    alias = served[:55] + "-live"
    assert client.create_alias(alias, blue) == Alias(alias, blue)
    assert Alias(alias, blue) in client.list_aliases()
    assert client.count_items(alias) == 12
    hits = client.search(alias, item_id="blue-0", k=3)  # The item itself is excluded.
    assert len(hits) == 3 and all(h.id.startswith("blue-") for h in hits), hits

    assert client.switch_alias(alias, green) == Alias(alias, green)
    assert Alias(alias, green) in client.list_aliases()
    assert client.count_items(alias) == 5
    assert client.get_item(alias, "green-1").id == "green-1"
    upsert_items(client, alias, "via-alias-", 2, seed=4)  # Writes go to the target.
    assert client.count_items(green) == 7
    assert client.count_items(blue) == 12

    # Bad input: precise codes, nothing changed.
    cases = [
        (lambda: client.create_alias(alias, blue), grpc.StatusCode.ALREADY_EXISTS),
        (lambda: client.create_alias(blue, green), grpc.StatusCode.ALREADY_EXISTS),
        (lambda: client.create_alias(alias + "2", "no-such-collection"),
         grpc.StatusCode.NOT_FOUND),
        (lambda: client.switch_alias(alias, "no-such-collection"), grpc.StatusCode.NOT_FOUND),
        (lambda: client.switch_alias(alias + "2", blue), grpc.StatusCode.NOT_FOUND),
        (lambda: client.create_alias("bad/name", blue), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda: client.delete_collection(green), grpc.StatusCode.FAILED_PRECONDITION),
        (lambda: client.delete_alias(alias + "2"), grpc.StatusCode.NOT_FOUND),
    ]
    for call, code in cases:
        with pytest.raises(BottleneckError) as error:
            call()
        assert error.value.code == code, error.value
    assert [a for a in client.list_aliases() if a.name.startswith(alias)] == \
        [Alias(alias, green)]
    assert client.count_items(green) == 7

    client.delete_alias(alias)
    assert all(a.name != alias for a in client.list_aliases())
    with pytest.raises(BottleneckError) as error:
        client.count_items(alias)
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    client.delete_collection(green)  # No alias points at it any more.
    assert client.count_items(blue) == 12
