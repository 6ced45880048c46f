"""The plugin's alembic branch (label ``hello``); alembic skips this file."""
