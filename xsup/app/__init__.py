"""The annotation app: annotate, review and correct explanations in the browser, then retrain.

A project is a folder (:func:`create_project`) that ``xsup app PROJECT_DIR``
serves as a local web page: annotate every input kind the estimators take,
review the saliency maps of a trained round beside the annotations, rate
them "right reason" / "wrong reason" / "unsure", correct the annotations,
and train the next round. :func:`load_annotations` returns the annotations
as the ``E`` that ``fit`` takes.

The server (:func:`serve`, :func:`create_app`) needs the ``app`` extra:
``pip install "xsup[app]"``; the project functions need only numpy.
"""

from typing import Any

from xsup.app._annotations import export_annotations, load_annotations
from xsup.app._estimator import add_model, set_estimator
from xsup.app._imports import export_png_masks, import_label_studio, import_png_masks
from xsup.app._project import create_project

__all__ = [
    "add_model", "create_app", "create_project", "export_annotations", "export_png_masks",
    "import_label_studio", "import_png_masks", "load_annotations", "serve", "set_estimator",
]


def __getattr__(name: str) -> Any:
    """Import the server on first use: it needs the optional ``app`` extra."""
    if name in ("create_app", "serve"):
        try:
            from xsup.app import _server
        except ImportError as error:
            raise ImportError(f"xsup.app.{name} needs Starlette and uvicorn: "
                              f'pip install "xsup[app]" ({error}).') from None
        return getattr(_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
