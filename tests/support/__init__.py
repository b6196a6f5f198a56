"""Helpers and service starters shared by the test tiers."""
