"""Deployment targets: a config model per kind, registered in `registry`."""
