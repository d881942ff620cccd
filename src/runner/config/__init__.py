"""Config models, strict loading and cross-file checks for the project's YAML."""
