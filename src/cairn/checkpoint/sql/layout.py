"""How a table is declared: its columns (name, kind of value, role) and the
statements made from them.

A table is declared once (``tables.py``); its CREATE statement in each
dialect, its column list, its INSERT, the SELECT of its rows and the order of
the values bound to them are all read from that declaration, so a column is
named in one place. Statements use "?" placeholders; a dialect turns them
into its own (``dialect.Dialect.sql``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple, Sequence


class Kind(enum.Enum):
    """The kind of value a column holds; each dialect names its SQL type."""

    KEY = "key"
    """Text compared by its bytes (ids sort as they were made)."""
    TEXT = "text"
    INT = "int"
    BIGINT = "bigint"
    REAL = "real"
    BLOB = "blob"


class Role(enum.Enum):
    """What a column is to the saver."""

    KEY = "key"
    """Part of the primary key: names the row."""
    VALUE = "value"
    """A plain value (a parent id, a step, a counter...)."""
    BLOB = "blob"
    """Encoded bytes (``codec``)."""


class Statement(NamedTuple):
    """A statement with its parameters, ready for ``cursor.execute(*statement)``."""

    sql: str
    params: Sequence[Any]


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its name, the kind of value it holds, what it is to the saver."""

    name: str
    kind: Kind
    role: Role = Role.VALUE
    null: bool = False
    """Whether the column may hold NULL."""


@dataclass(frozen=True)
class Table:
    """A table of cairn's: its columns in the order rows are read and written."""

    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.role is Role.KEY)

    def position(self, name: str) -> int:
        """Where column ``name`` is in a row read with ``select``."""
        return self.names.index(name)

    def create(self, types: Mapping[Kind, str], options: str = "") -> str:
        """The CREATE TABLE statement, with a dialect's ``types`` and table ``options``."""
        columns = ", ".join(
            f"{c.name} {types[c.kind]}{'' if c.null else ' NOT NULL'}" for c in self.columns
        )
        return (
            f"CREATE TABLE {self.name} ({columns}, PRIMARY KEY ({', '.join(self.key)})){options}"
        )

    def select(self, replaced: Mapping[str, str] | None = None, alias: str = "") -> str:
        """The column list of a SELECT reading whole rows (of the table named
        ``alias`` in the statement, if given); ``replaced`` puts an expression
        in the place of a column (``{"snapshot": "NULL"}``), so every column
        keeps its position."""
        replaced = replaced or {}
        for name in replaced:
            self.position(name)  # a misspelt column fails here, not in the database
        prefix = f"{alias}." if alias else ""
        return ", ".join(replaced.get(name, prefix + name) for name in self.names)

    @property
    def marks(self) -> str:
        """One "?" per column: the values of one row."""
        return ", ".join("?" * len(self.columns))

    def insert(self, condition: str = "", *, keep_existing: bool = True) -> str:
        """The INSERT of one row (parameters: its values in column order),
        doing nothing when a row with its key is there (unless not
        ``keep_existing``: the database refuses it then); with ``condition``,
        only if that holds (its parameters follow the row's)."""
        source = f"VALUES ({self.marks})" if not condition else f"SELECT {self.marks} WHERE {condition}"
        conflict = f" ON CONFLICT ({', '.join(self.key)}) DO NOTHING" if keep_existing else ""
        return f"INSERT INTO {self.name} ({', '.join(self.names)}) {source}{conflict}"

    def upsert(self, column: str) -> str:
        """The INSERT of one row that replaces ``column`` of a row with its key."""
        self.position(column)
        return (
            f"INSERT INTO {self.name} ({', '.join(self.names)}) VALUES ({self.marks}) "
            f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {column} = excluded.{column}"
        )

    def where_key(self, alias: str = "") -> str:
        """``key1 = ? AND key2 = ? ...``: one row by its key."""
        prefix = f"{alias}." if alias else ""
        return " AND ".join(f"{prefix}{name} = ?" for name in self.key)
