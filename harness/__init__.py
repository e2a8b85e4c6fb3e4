"""hubrig: hardware-in-the-loop test harness for SMETS2 Comms Hubs and ESME."""
