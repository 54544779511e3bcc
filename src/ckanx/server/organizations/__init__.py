"""Organizations, groups and their members (users and datasets)."""
