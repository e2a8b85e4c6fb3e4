"""Instrument drivers: one module per instrument family (psu, itch, relay, han)."""
