"""xsup-energy-loss: the energy-based pointing game as an xsup explanation loss.

Installing this package registers the loss under the name ``energy`` in the
``xsup.losses`` entry-point group, so ``loss="energy"`` works in any xsup
estimator.
"""

from xsup_energy_loss.loss import EnergyPointingLoss

__version__ = "0.1.0"

__all__ = ["EnergyPointingLoss", "__version__"]
