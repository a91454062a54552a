"""Client methods of CollectionService's backups and aliases (single-node servers; a
cluster-mode server answers UNIMPLEMENTED): create_backup, list_backups, delete_backup,
create_alias, switch_alias, delete_alias, list_aliases. Every method but list_aliases needs the
admin token."""
from __future__ import annotations

from typing import List, Optional

from bottleneck_client._base import Connection
from bottleneck_client._proto.bottleneck.v1 import collection_pb2
from bottleneck_client.types import Alias, Backup


class AdminMixin:
    _conn: Connection

    # ---- backups

    def create_backup(self, name: str = "", *, timeout: Optional[float] = 600.0) -> Backup:
        """Takes a consistent online copy of the whole store (writes go on) into the server's
        --backup-dir/name; name "" means "backup-<UTC time>". Every write acknowledged before
        the call is in it. timeout: seconds (a large store takes a while; None: no deadline).
        A retry after a lost reply may get ALREADY_EXISTS: the backup was taken."""
        return Backup.from_proto(self._conn.call(
            self._conn.stubs.collections.CreateBackup,
            collection_pb2.CreateBackupRequest(name=name), timeout=timeout))

    def list_backups(self) -> List[Backup]:
        """The server's backups, oldest first."""
        response = self._conn.call(self._conn.stubs.collections.ListBackups,
                                   collection_pb2.ListBackupsRequest())
        return [Backup.from_proto(b) for b in response.backups]

    def delete_backup(self, name: str) -> Backup:
        """Deletes backup `name` (it leaves the listing at once, then its files are removed;
        the store keeps its own files). Returns what was deleted. NOT_FOUND when there is no
        such backup, INVALID_ARGUMENT for a malformed name."""
        response = self._conn.call(self._conn.stubs.collections.DeleteBackup,
                                   collection_pb2.DeleteBackupRequest(name=name))
        return Backup.from_proto(response.backup)

    # ---- aliases

    def create_alias(self, name: str, collection: str) -> Alias:
        """A second name for `collection` that item and query methods accept wherever they take
        a collection. ALREADY_EXISTS when the name is taken (by an alias or a collection),
        NOT_FOUND when the collection does not exist."""
        alias = self._conn.call(self._conn.stubs.collections.CreateAlias,
                                collection_pb2.CreateAliasRequest(name=name,
                                                                  collection=collection))
        return Alias(alias.name, alias.collection)

    def switch_alias(self, name: str, collection: str) -> Alias:
        """Points alias `name` at another collection in one step (blue/green re-indexing)."""
        alias = self._conn.call(self._conn.stubs.collections.SwitchAlias,
                                collection_pb2.SwitchAliasRequest(name=name,
                                                                  collection=collection))
        return Alias(alias.name, alias.collection)

    def delete_alias(self, name: str) -> None:
        """Deletes the alias (not its collection)."""
        self._conn.call(self._conn.stubs.collections.DeleteAlias,
                        collection_pb2.DeleteAliasRequest(name=name))

    def list_aliases(self) -> List[Alias]:
        """Every alias, in name order."""
        response = self._conn.call(self._conn.stubs.collections.ListAliases,
                                   collection_pb2.ListAliasesRequest())
        return [Alias(a.name, a.collection) for a in response.aliases]
