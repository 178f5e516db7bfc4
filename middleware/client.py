"""Public Python client of the soundscape daemon (see ``middleware.transport.client``)."""

from .transport.client import Batch, Caption, Client, Subscriber

__all__ = ["Batch", "Caption", "Client", "Subscriber"]
