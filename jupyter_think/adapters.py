"""Tool-loop adapters for the ``openai`` and ``anthropic`` SDKs: the public path of :mod:`jupyter_think.agent.adapters`."""

from jupyter_think.agent.adapters import *  # noqa: F403 (the public path re-exports the module)
from jupyter_think.agent.adapters import __all__ as __all__
