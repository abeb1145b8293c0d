"""A tiny chat backend: agents report progress through :mod:`chatapp.bridge`."""
