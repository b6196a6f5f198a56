"""``make demo``: calsync's story, played against a local run and checked step by step."""
