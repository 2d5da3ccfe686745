"""Test-session settings shared by the tests, the doctests and the example plugin's tests."""

import torch

# The tests train tiny networks: one thread avoids oversubscribing small CI machines.
torch.set_num_threads(1)
