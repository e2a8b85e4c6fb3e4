"""Capture: link framing, the durable frame journal, the event bus, and the pipeline that joins them (transport -> framing -> journal -> decode -> events)."""
