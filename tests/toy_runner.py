"""A tiny model and dataset for tests that run a real mmengine ``Runner`` in seconds."""

import torch
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset


class ToyModel(BaseModel):
    """y = w.x + b, trained to twice the first input."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - data_samples) ** 2).mean())
        if mode == 'predict':
            return list(zip(out, data_samples))
        return out


class ToyData(Dataset):
    """8 samples ``([i * scale, 1], 2 * i * scale)``."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def __len__(self):
        return 8

    def __getitem__(self, i):
        x = torch.tensor([float(i) * self.scale, 1.0])
        return dict(inputs=x, data_samples=x[:1] * 2)
