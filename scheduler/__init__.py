"""The clock tick and the scheduler loop."""
