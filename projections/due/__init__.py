"""Due-index handlers, one module per billing behaviour (imported by :mod:`projections.due_index`)."""
