"""The annotation app: annotate, review and correct explanations in the browser, then retrain.

A project is a folder (:func:`create_project`) that ``xsup app PROJECT_DIR``
serves as a local web page: annotate every input kind the estimators take,
review the saliency maps of a trained round beside the annotations, rate
them "right reason" / "wrong reason" / "unsure", correct the annotations,
and train the next round. :func:`load_annotations` returns the annotations
as the ``E`` that ``fit`` takes.

The server (:func:`serve`, :func:`create_app`) needs the ``app`` extra:
``pip install "xsup[app]"`` (Starlette, uvicorn, and Pillow for PNG masks);
the project functions work without it.
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

try:
    from xsup.app._server import create_app, serve
except ImportError as missing:  # no "app" extra: the project functions above still work
    _REASON = str(missing)

    def __getattr__(name: str) -> Any:
        """Say what to install when the server is asked for without Starlette and uvicorn."""
        if name in ("create_app", "serve"):
            raise ImportError(f"xsup.app.{name} needs Starlette and uvicorn: "
                              f'pip install "xsup[app]" ({_REASON}).')
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
