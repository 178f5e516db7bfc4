"""Public Python client of the soundscape daemon (see ``middleware.transport.client``)."""

from .transport.client import Batch, Client, Subscriber

__all__ = ["Batch", "Client", "Subscriber"]
