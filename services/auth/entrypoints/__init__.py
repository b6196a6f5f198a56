"""auth's entry points: HTTP handlers, pages, consumers, scheduled jobs and operator commands."""
