"""Instrument drivers: one module or package per instrument family (psu, relay, itch, ...), the shared
SCPI layer (scpi), and families/ where each family registers itself (hubrig.harness.rig.instruments)."""
