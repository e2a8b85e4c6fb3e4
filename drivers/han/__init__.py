"""The ZigBee HAN stick (an EmberZNet NCP through bellows): identity, energy and active scans."""

from hubrig.drivers.han.session import HanError
from hubrig.drivers.han.stick import (HAN_ENERGY, HAN_FRAME, HAN_NETWORK, HAN_SCAN_COMPLETE, EnergyReading, HanStick,
                                      Identity, NetworkHeard, Scan, open_han)

__all__ = ["HAN_ENERGY", "HAN_FRAME", "HAN_NETWORK", "HAN_SCAN_COMPLETE", "EnergyReading", "HanError", "HanStick",
           "Identity", "NetworkHeard", "Scan", "open_han"]
