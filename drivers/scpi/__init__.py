"""The SCPI layer every SCPI instrument family shares (supplies now, spectrum analysers next):
a session that writes, queries, reads binary blocks, waits on ``*OPC?``, reads the error queue and
resynchronises after a lost exchange (:mod:`.session`); defensive reply parsing (:mod:`.replies`);
opening through pyvisa with TCP_NODELAY (:mod:`.visa`); transcript replay for tests (:mod:`.transcript`)."""

from hubrig.drivers.scpi.errors import InstrumentError, VisaOpenError
from hubrig.drivers.scpi.session import BinaryEndpoint, Endpoint, ScpiSession

__all__ = ["BinaryEndpoint", "Endpoint", "InstrumentError", "ScpiSession", "VisaOpenError"]
