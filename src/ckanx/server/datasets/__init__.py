"""Datasets, resources, uploads, tags, vocabularies and dataset activity of the embedded CKAN."""
