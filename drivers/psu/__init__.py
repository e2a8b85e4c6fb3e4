"""Bench power supplies and AC sources driven by SCPI through pyvisa."""
