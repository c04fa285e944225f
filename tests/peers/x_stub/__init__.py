"""A local stub of the X API v2 endpoints the X adapter uses (see server.py)."""
