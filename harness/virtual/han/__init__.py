"""The virtual HAN stick: an EmberZNet NCP (ASH, an EZSP subset) hearing the virtual bench's radio."""
