"""Persistence: the only package that imports SQLModel or SQLAlchemy."""
