"""Checks of the deploy/ recipes: packaging, templates and manifests, without a cloud account."""
