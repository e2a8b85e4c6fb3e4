"""Capture: link framing, the durable frame journal and the event bus (transport -> framing -> journal -> decode -> events)."""
