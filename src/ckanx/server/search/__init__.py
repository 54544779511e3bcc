"""Search for the embedded CKAN: an in-memory index imitating CKAN's Solr core.

- :mod:`.indexing`: the write side the datasets family calls (``index_package``,
  ``remove_package``, ``rebuild``).
- :mod:`.documents`: package dict -> the flat document CKAN sends to Solr.
- :mod:`.analysis`, :mod:`.stemmer`: CKAN's Solr schema (field types, copyFields) and analysers.
- :mod:`.lucene`: the Lucene/Solr query parser; :mod:`.engine`: the bitset index and evaluator.
- :mod:`.actions`: ``package_search``, ``resource_search``, ``package_autocomplete`` and
  :func:`~.actions.count` (dataset counts for organizations and groups).
"""
