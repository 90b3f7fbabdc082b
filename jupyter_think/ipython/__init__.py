"""The IPython face: the magics, the ``%think`` parser, magic errors, the extension loader, ``%config``."""
