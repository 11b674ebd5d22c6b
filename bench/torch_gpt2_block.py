#!/usr/bin/python3
"""torch_gpt2_block.py — forward + backward of one GPT-2 block in PyTorch, the reference for
bench/gpt2_block.cpp (both run by bench/compare_block).

The block is written in plain torch.nn as a PyTorch user would (and as nn/gpt2.h computes it):
pre-LN, fused QKV c_attn with bias, scores scaled by 1/sqrt(head dim), causal and key-padding
masks applied with one masked_fill(-inf) of a (B, 1, T, T) mask built inside forward, softmax,
c_proj; MLP D -> 4D -> D with tanh-GELU (--activation relu: ReLU). Float32. Same shapes, mask and timing as the C++ bench:
median wall-clock seconds of forward + backward(G) over --reps steps after 3 warm-up steps, and
the median process CPU seconds per step.

Run: /usr/bin/python3 bench/torch_gpt2_block.py --threads 1   (Debian's python3-torch 1.13)
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, D, H, relu):
        super().__init__()
        self.D, self.H, self.relu = D, H, relu
        self.ln_1 = nn.LayerNorm(D)
        self.c_attn = nn.Linear(D, 3 * D)
        self.c_proj = nn.Linear(D, D)
        self.ln_2 = nn.LayerNorm(D)
        self.c_fc = nn.Linear(D, 4 * D)
        self.mlp_proj = nn.Linear(4 * D, D)

    def attention(self, x, valid):                   # x (B, T, D), valid (B, T) bool
        B, T, D = x.shape
        S = D // self.H
        q, k, v = self.c_attn(x).split(D, dim=2)
        q, k, v = (t.view(B, T, self.H, S).transpose(1, 2) for t in (q, k, v))  # (B, H, T, S)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(S))               # (B, H, T, T)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        allowed = causal[None, None] & valid[:, None, None, :]                   # (B, 1, T, T)
        scores = scores.masked_fill(~allowed, float("-inf"))
        y = F.softmax(scores, dim=-1) @ v                                        # (B, H, T, S)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, D))

    def forward(self, h, valid):
        h = h + self.attention(self.ln_1(h), valid)
        hidden = self.c_fc(self.ln_2(h))
        active = F.relu(hidden) if self.relu else F.gelu(hidden, approximate="tanh")
        return h + self.mlp_proj(active)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--activation", choices=["gelu", "relu"], default="gelu")
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    B, T, D = a.batch, a.tokens, a.width
    block = Block(D, a.heads, a.activation == "relu")
    x = torch.randn(B, T, D, requires_grad=True)
    upstream = torch.randn(B, T, D)
    half = max(T // 2, 1)  # sequence b keeps its first T/2 + (b mod T/2) + 1 tokens
    lengths = torch.tensor([min(T, half + b % half + 1) for b in range(B)])
    valid = torch.arange(T)[None, :] < lengths[:, None]  # (B, T)

    def step():
        block.zero_grad(set_to_none=True)
        x.grad = None
        block(x, valid).backward(upstream)

    for _ in range(3):
        step()
    times, cpu_times = [], []  # wall-clock and process CPU seconds per step
    for _ in range(a.reps):
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        cpu_times.append(time.process_time() - cpu_start)
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"torch {torch.__version__} gpt2 block fwd+bwd B={B} T={T} D={D} H={a.heads} "
          f"{a.activation} threads={a.threads}: median {statistics.median(times):.6f} s "
          f"(min {times[0]:.6f}, max {times[-1]:.6f}, {a.reps} reps); "
          f"cpu median {statistics.median(cpu_times):.6f} s")


if __name__ == "__main__":
    main()
