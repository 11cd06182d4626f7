"""Read models: SQLAlchemy Core tables, the projection runner with position tracking, report queries."""
