"""A thinking session: its state, lanes, references and teaching history, and what views read."""
