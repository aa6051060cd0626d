"""What a SQL backend's statements differ in: its placeholders, its clock,
its types, its one-statement put and its lease statements.

Each backend has one ``Dialect`` object (``sqlite/dialect.py``,
``postgres/dialect.py``); the shared SQL code (``sql/__init__.py``,
``sql/threads.py``) writes "?" placeholders and ``{now}`` for the clock and
asks the saver's dialect for the rest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Mapping, Sequence

from cairn.checkpoint.base import Lease
from cairn.checkpoint.sql.layout import Kind, Statement, Table
from cairn.checkpoint.sql.tables import RELEASE_LEASE, RENEW_LEASE, Link

__all__ = ["Dialect", "Statement"]


class Dialect(ABC):
    """One backend's SQL."""

    name: str
    placeholder: str
    """How a statement marks a parameter ("?" or "%s")."""
    now: str
    """SQL for the database's clock in seconds since the epoch: leases use
    the database's clock, so processes on machines whose clocks differ agree."""
    empty_blob: str
    """SQL for an empty blob (b"")."""
    types: Mapping[Kind, str]
    """The SQL type of each kind of column."""

    def __init__(self) -> None:
        self._converted: dict[str, str] = {}

    def sql(self, text: str) -> str:
        """``text`` in this dialect: its placeholders, its clock for ``{now}``,
        its empty blob for ``{empty_blob}``."""
        converted = self._converted.get(text)
        if converted is None:
            converted = text.replace("{now}", self.now).replace("{empty_blob}", self.empty_blob)
            if self.placeholder != "?":
                converted = converted.replace("?", self.placeholder)
            self._converted[text] = converted
        return converted

    def create(self, table: Table) -> str:
        """The CREATE TABLE statement of ``table``."""
        return table.create(self.types, self.options(table))

    def options(self, table: Table) -> str:
        """What follows the column list of ``table``'s CREATE TABLE."""
        return ""

    @abstractmethod
    def put(self, links: Sequence[Link], lease: Lease) -> Statement | None:
        """One statement, in this dialect, storing ``links`` under ``lease``,
        each after its parent (the first after a stored one), or None when
        this backend stores them in a transaction of several."""

    @abstractmethod
    def take_lease(self, lease: Lease, replacing: str) -> Statement:
        """The statement taking ``lease``'s thread when free, expired, ours or
        held by the dead owner ``replacing``; its rows name the owner."""

    def renew_lease(self, lease: Lease) -> Statement:
        return Statement(self.sql(RENEW_LEASE), (lease.ttl, lease.thread_id, lease.owner))

    def release_lease(self, lease: Lease) -> Statement:
        return Statement(self.sql(RELEASE_LEASE), (lease.thread_id, lease.owner))
