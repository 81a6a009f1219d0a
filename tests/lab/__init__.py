"""The service lab: real MariaDB, RabbitMQ, Placement, nova databases and nova-conductors on loopback."""
from .config import LabConfig
from .lab import Lab
from .process import LabError
from .seed import NovaSeed, PlacementSeed

__all__ = ["Lab", "LabConfig", "LabError", "NovaSeed", "PlacementSeed"]
