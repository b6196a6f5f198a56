"""auth's adapters: SQL repositories, Google OAuth, RISC keys, crypto, signed links, metrics."""
