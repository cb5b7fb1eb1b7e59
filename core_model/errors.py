"""core_model's own errors: one root, ``CoreModelError``, importable without torch.

Each carries one sentence meant for the user (the CLI's one line on stderr, the plugin's message bar):
what went wrong and what to do. Front ends catch the root and show ``str(exc)``; anything else is a bug
and is reported with its traceback.
"""


class CoreModelError(Exception):
    """Root of every error core_model raises on purpose; its text is one sentence for the user."""


class CheckpointError(CoreModelError):
    """A checkpoint that cannot be used; the message is one sentence naming the file and the reason."""


class DatasetError(CoreModelError):
    """A dataset folder or file that cannot be used; the message is one sentence."""


class CliError(CoreModelError):
    """Bad input to a command line; the message is one sentence shown as-is."""


class CatalogueError(CoreModelError):
    """A model catalogue file or entry, or a model name, that cannot be used (core_model.models)."""


class ModelDownloadError(CoreModelError):
    """A model that could not be downloaded, verified or installed (core_model.models); one sentence."""


class TransportError(ModelDownloadError):
    """The bytes of a download could not be fetched (unreachable, HTTP error, connection cut)."""


class DownloadCancelled(ModelDownloadError):
    """The user cancelled a download; its partial file is kept so that a later download resumes it."""


class EngineError(CoreModelError):
    """An inference engine that is missing or cannot do what was asked (e.g. a refinement mode on ONNX
    Runtime); the message is one sentence."""
