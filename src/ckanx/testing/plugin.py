"""pytest plugin (entry point ``ckanx``): provides the ``ckan_server`` fixture."""
