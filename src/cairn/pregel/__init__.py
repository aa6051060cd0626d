"""LangGraph's ``langgraph.pregel`` import paths that cairn serves: ``remote``
(``RemoteGraph``, a graph on a LangGraph API server)."""
