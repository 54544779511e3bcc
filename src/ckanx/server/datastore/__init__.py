"""The embedded DataStore: tables per resource in ``datastore.db``, the datastore_* actions and
``/datastore/dump/<resource_id>``."""
