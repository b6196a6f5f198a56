"""auth's use cases, one module each; dependencies arrive as the bundles of ``deps.py``."""
