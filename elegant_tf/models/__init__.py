"""The networks and layers of ELEGANT: what is trained and exported."""
