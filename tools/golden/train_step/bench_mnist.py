"""Time PyTorch's MNIST-example CNN training step (batch 64, 2 threads) to
compare with `go test ./models -bench MNISTNetTrainStep`.

Run: python3 tools/golden/train_step/bench_mnist.py [steps]
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return self.fc2(x)


steps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
net = Net()
opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
for _ in range(3):
    opt.zero_grad()
    F.cross_entropy(net(x), y).backward()
    opt.step()
t = time.perf_counter()
for _ in range(steps):
    opt.zero_grad()
    F.cross_entropy(net(x), y).backward()
    opt.step()
dt = (time.perf_counter() - t) / steps
print(f"pytorch {torch.__version__} MNIST CNN train step, batch 64, 2 threads: {dt*1e3:.1f} ms/step, {64/dt:.0f} img/s")
