"""Demo data for the Almelo (GM0141) showcase municipality."""
