"""The server's routes, one module per group of endpoints."""
