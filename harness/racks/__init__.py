"""Racks of rigs: one database for results, rig pools, leases and health (SQLite or PostgreSQL)."""
