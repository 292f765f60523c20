"""Alembic migrations: the only way the Veriframe schema is made (see service.db.migrate)."""
