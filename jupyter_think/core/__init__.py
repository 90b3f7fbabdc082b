"""The core: ids, models, errors, events, settings and the session — no IPython, files or widgets."""
