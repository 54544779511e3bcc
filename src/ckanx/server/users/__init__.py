"""Users, API tokens, the sysadmin bootstrap and token authentication."""
