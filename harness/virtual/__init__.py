"""The virtual rig: emulated supply, ESME, Comms Hub/ITCH and HAN stick, in virtual or real time."""
