"""GBCS codec: message envelope, content, security, tables."""
