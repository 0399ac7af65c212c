"""Pure rules of the prescription service: no Flask, no database session."""
