"""Long-term memory across threads: stores of JSON-like dicts under
namespaces, with filters, TTLs and semantic search (LangGraph's ``langgraph.store``).

    from cairn.store.memory import InMemoryStore
    from cairn.store.sqlite import SqliteStore
    from cairn.store.postgres import PostgresStore
"""

from cairn.store.base import BaseStore, IndexConfig, Item, SearchItem, TTLConfig

__all__ = ["BaseStore", "IndexConfig", "Item", "SearchItem", "TTLConfig"]
