"""The API key roles, defined once (auth, the database's CHECK constraint, the SDK and the admin CLI).

Pure Python: the light SDK imports it.
"""

ROLES: tuple[str, ...] = ("client", "moderator", "admin", "verifier")
STAFF = frozenset({"moderator", "admin"})  # they see every tenant's reviews, jobs and audit records
