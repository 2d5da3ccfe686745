"""Built-in backbones (``module=`` names): mlp, cnn, cnn_gru, convlstm, tcn,
lstm, input_cell_lstm, transformer."""

from xsup.modules.cnn import CNN
from xsup.modules.cnn_gru import CNNGRU
from xsup.modules.convlstm import ConvLSTM
from xsup.modules.input_cell_lstm import InputCellLSTM
from xsup.modules.lstm import LSTM
from xsup.modules.mlp import MLP
from xsup.modules.tcn import TCN
from xsup.modules.transformer import Transformer

__all__ = ["CNN", "CNNGRU", "ConvLSTM", "InputCellLSTM", "LSTM", "MLP", "TCN", "Transformer"]
