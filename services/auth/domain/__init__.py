"""auth's pure rules and types: no I/O, no clock reads, no async."""
