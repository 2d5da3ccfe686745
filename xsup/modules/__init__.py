"""Built-in backbones (``module=`` names): mlp, cnn, cnn_gru, tcn."""

from xsup.modules.cnn import CNN
from xsup.modules.cnn_gru import CNNGRU
from xsup.modules.mlp import MLP
from xsup.modules.tcn import TCN

__all__ = ["CNN", "CNNGRU", "MLP", "TCN"]
