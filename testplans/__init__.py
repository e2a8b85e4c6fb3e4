"""Shipped test plans (pytest modules) users run against a rig."""
