"""training: nothing yet (see DESIGN.md for what lands here)."""
