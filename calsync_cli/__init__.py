"""The operator CLI (``calsync``): talks to the running services over their ``/api/v1`` service APIs
with the service token, and to the broker for dead letters; never to a service's database."""
