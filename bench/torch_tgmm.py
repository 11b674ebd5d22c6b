#!/usr/bin/python3
"""torch_tgmm.py — the TGMM model and training step in PyTorch, mirroring gmm/ exactly.

Used (1) as the reference for the C++ model's parity fixture (tests/fixtures/make_tgmm_fixture.py)
and (2) as the PyTorch side of the training-step benchmark. Needs Debian's python3-torch; run it
with /usr/bin/python3. It is never a dependency of the library or of the quick-start commands.

Parameter names follow the official module tree with Linear weights stored (out, in):
  task_embedding.weight (K_max, 128); read_in.{weight,bias}; backbone.wpe.weight (P, D);
  backbone.h.i.{ln_1,attn.c_attn,attn.c_proj,ln_2,mlp.c_fc,mlp.c_proj}.{weight,bias};
  backbone.ln_f.{weight,bias}; readouts.j.{queries, k_proj.weight, v_proj.weight}.
A diagonal-covariance model (diag=True, `--covariance diag` in C++) has readouts of width
K_max + 2d, the last d outputs of each slot being the scales' pre-activations (softplus).

Benchmark (the PyTorch side of bench/compare; same step as `tools/bench train`: all tasks in one
padded batch, one backbone pass, readouts per K, the paper's sorted loss, clip 1, AdamW):
  /usr/bin/python3 bench/torch_tgmm.py --d 8 --embd 64 --layers 4 --heads 4 --n 64 \
      --batch 16 --steps 10 --threads 1 [--backbone gpt2|set] [--json]
"""
import argparse
import json
import math
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

TASK_EMBD = 128


class Attention(nn.Module):
    def __init__(self, D, H, causal):
        super().__init__()
        self.c_attn = nn.Linear(D, 3 * D)
        self.c_proj = nn.Linear(D, D)
        self.H, self.causal = H, causal

    def forward(self, x, valid):  # x (B,T,D), valid (B,T) bool
        B, T, D = x.shape
        H, hs = self.H, D // self.H
        q, k, v = self.c_attn(x).split(D, dim=2)
        q = q.view(B, T, H, hs).transpose(1, 2)  # (B,H,T,hs)
        k = k.view(B, T, H, hs).transpose(1, 2)
        v = v.view(B, T, H, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (B,H,T,T)
        allowed = valid[:, None, None, :]
        if self.causal:
            allowed = allowed & torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~allowed, float("-inf"))
        att = torch.softmax(att, dim=-1)
        att = torch.nan_to_num(att, nan=0.0)  # a query row with no allowed key outputs zeros
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, D)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, D):
        super().__init__()
        self.c_fc = nn.Linear(D, 4 * D)
        self.c_proj = nn.Linear(4 * D, D)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, D, H, causal):
        super().__init__()
        self.ln_1 = nn.LayerNorm(D, eps=1e-5)
        self.attn = Attention(D, H, causal)
        self.ln_2 = nn.LayerNorm(D, eps=1e-5)
        self.mlp = MLP(D)

    def forward(self, x, valid):
        x = x + self.attn(self.ln_1(x), valid)
        return x + self.mlp(self.ln_2(x))


class Backbone(nn.Module):
    def __init__(self, D, L, H, positions, causal=True, use_positions=True):
        super().__init__()
        if use_positions:
            self.wpe = nn.Embedding(positions, D)
        self.use_positions = use_positions
        self.h = nn.ModuleList([Block(D, H, causal) for _ in range(L)])
        self.ln_f = nn.LayerNorm(D, eps=1e-5)

    def forward(self, x, valid):
        if self.use_positions:
            x = x + self.wpe.weight[: x.shape[1]]
        for block in self.h:
            x = block(x, valid)
        return self.ln_f(x)


class Readout(nn.Module):
    """Attentive pooling: K_max learned queries over the valid positions; E = K_max + d outputs
    per slot, K_max + 2d with scales."""

    def __init__(self, D, k_max, d, scales=False):
        super().__init__()
        E = k_max + (2 * d if scales else d)
        self.queries = nn.Parameter(torch.randn(k_max, E))
        self.k_proj = nn.Linear(D, E, bias=False)
        self.v_proj = nn.Linear(D, E, bias=False)

    def forward(self, h, valid):  # h (B,N,D) -> (B,K_max,E)
        keys = self.k_proj(h)  # (B,N,E)
        scores = keys @ self.queries.t()  # (B,N,K_max)
        scores = scores.masked_fill(~valid[:, :, None], float("-inf"))
        attn = torch.softmax(scores, dim=1)  # over positions
        return attn.transpose(1, 2) @ self.v_proj(h)  # (B,K_max,E)


class TGMM(nn.Module):
    def __init__(self, d, ks, D, L, H, n_max, k_max=5, causal=True, use_positions=True,
                 diag=False):
        super().__init__()
        self.d, self.ks, self.k_max = d, list(ks), k_max
        self.task_embedding = nn.Embedding(k_max, TASK_EMBD)
        self.read_in = nn.Linear(d + TASK_EMBD, D)
        self.backbone = Backbone(D, L, H, n_max, causal, use_positions)
        self.readouts = nn.ModuleList([Readout(D, k_max, d, scales=diag) for _ in self.ks])
        self.gpt2_init(L)

    def gpt2_init(self, L):
        nn.init.normal_(self.task_embedding.weight, 0.0, 1.0)
        for name, p in self.backbone.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
                nn.init.ones_(p)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)
            elif name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * L))
            else:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, x, k, valid):
        """x (B,N,d); k: the K of this whole batch (one readout); valid (B,N) bool.
        Returns weight log-probabilities (B,K) and means (B,K,d)."""
        B, N, _ = x.shape
        e = self.task_embedding.weight[k - 1].expand(B, N, TASK_EMBD)
        h = self.backbone(self.read_in(torch.cat([x, e], dim=-1)), valid)
        o = self.readouts[self.ks.index(k)](h, valid)  # (B,K_max,K_max+d)
        logits = o[:, :, : self.k_max].mean(dim=1)[:, :k]  # slot-averaged, masked to K
        return torch.log_softmax(logits, dim=-1), o[:, :k, self.k_max :]

    def forward_batched(self, x, ks, valid):
        """As gmm/tgmm/tgmm.cpp runs a training batch: every task through ONE backbone pass (each with
        its own task embedding), then each K's readout over that K's tasks, in task order.
        x (B,N,d); ks (B) long; valid (B,N) bool. Returns padded weight log-probabilities
        (B,K_max; -inf beyond K) and means (B,K_max,d)."""
        B, N, _ = x.shape
        e = self.task_embedding(ks - 1)[:, None, :].expand(B, N, TASK_EMBD)
        h = self.backbone(self.read_in(torch.cat([x, e], dim=-1)), valid)
        log_pi = x.new_full((B, self.k_max), float("-inf"))
        mu = x.new_zeros(B, self.k_max, self.d)
        for j, k in enumerate(self.ks):
            idx = (ks == k).nonzero().squeeze(1)
            if idx.numel() == 0:
                continue
            o = self.readouts[j](h[idx], valid[idx])  # (b,K_max,K_max+d)
            logits = o[:, :, : self.k_max].mean(dim=1)[:, :k]
            log_pi = log_pi.index_copy(0, idx, F.pad(torch.log_softmax(logits, -1),
                                                     (0, self.k_max - k), value=float("-inf")))
            mu = mu.index_copy(0, idx, o[:, :, self.k_max :])
        return log_pi, mu


def sorted_loss(log_pi, mu_hat, pi, mu):
    """Soft-target CE on weights + mean over slots of (1/d)||mu_hat - mu||^2, averaged over tasks."""
    d = mu.shape[-1]
    ce = -(pi * log_pi).sum(-1)
    mse = ((mu_hat - mu) ** 2).sum(-1).mean(-1) / d
    return (ce + mse).mean()


def sorted_loss_padded(log_pi, mu_hat, pi, mu, slot_mask):
    """sorted_loss over a padded batch: pi, mu zero beyond each task's K; slot_mask (B,K_max)."""
    d = mu.shape[-1]
    ce = -(pi * log_pi.masked_fill(slot_mask == 0, 0.0)).sum(-1)
    mse = (((mu_hat - mu) ** 2).sum(-1) * slot_mask).sum(-1) / slot_mask.sum(-1) / d
    return (ce + mse).mean()


def step_flops(d, k_max, D, L, N, tasks):
    """Matrix-multiply FLOPs of one training step, as tools/bench counts them (forward x 3).
    Per task, E = K_max + d: read-in 2N(d+128)D; per layer 24ND^2 + 4N^2 D; readout 4NDE + 4N K_max E."""
    E = k_max + d
    forward = 2 * N * (d + 128) * D + L * (24 * N * D * D + 4 * N * N * D) + 4 * N * D * E \
        + 4 * N * k_max * E
    return 3 * forward * tasks


def sample_padded_batch(gen, d, ks, B, n, k_max):
    """All K's tasks in one padded batch, as gmm/mixture/tasks.cpp lays them out (timing only)."""
    xs, valids, pis, mus, kk = [], [], [], [], []
    for k in ks:
        x, valid, pi, mu = sample_batch(gen, d, k, B, n)
        xs.append(x)
        valids.append(valid)
        pis.append(F.pad(pi, (0, k_max - k)))
        mus.append(F.pad(mu, (0, 0, 0, k_max - k)))
        kk.append(torch.full((B,), k, dtype=torch.long))
    ks_t = torch.cat(kk)
    slot_mask = (torch.arange(k_max)[None, :] < ks_t[:, None]).float()
    return torch.cat(xs), ks_t, torch.cat(valids), torch.cat(pis), torch.cat(mus), slot_mask


def sample_batch(gen, d, k, B, n):
    """A quick stand-in for the task prior (timing only; the C++ sampler is the reference)."""
    u = torch.rand(B, k, generator=gen) * 0.6 + 0.2
    pi = torch.sort(u, dim=-1).values
    pi = pi / pi.sum(-1, keepdim=True)
    mu = torch.rand(B, k, d, generator=gen) * 10 - 5
    z = torch.multinomial(pi, n, replacement=True, generator=gen)
    x = torch.gather(mu, 1, z[..., None].expand(B, n, d)) + torch.randn(B, n, d, generator=gen)
    lengths = torch.randint(n // 2, n + 1, (B,), generator=gen)
    valid = torch.arange(n)[None, :] < lengths[:, None]
    return x, valid, pi, mu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--ks", default="2,3,4,5")
    ap.add_argument("--embd", type=int, default=64)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--backbone", default="gpt2", choices=["gpt2", "set"])
    ap.add_argument("--device", default="cpu", help="cpu or cuda (a GPU run of the same step)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ks = [int(k) for k in a.ks.split(",")]
    k_max = max(ks)
    gpt2 = a.backbone == "gpt2"
    model = TGMM(a.d, ks, a.embd, a.layers, a.heads, a.n, k_max, causal=gpt2, use_positions=gpt2)
    gen = torch.Generator().manual_seed(1)
    batches = [sample_padded_batch(gen, a.d, ks, a.batch, a.n, k_max) for _ in range(4)]
    dev = torch.device(a.device)
    model = model.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)  # over the moved params
    batches = [tuple(t.to(dev) for t in b) for b in batches]
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    times = []
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        x, ks_t, valid, pi, mu, slot_mask = batches[step % 4]
        log_pi, mu_hat = model.forward_batched(x, ks_t, valid)
        loss = sorted_loss_padded(log_pi, mu_hat, pi, mu, slot_mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    med = statistics.median(times)
    q = statistics.quantiles(times, n=4) if len(times) >= 2 else [med, med, med]
    tasks = a.batch * len(ks)
    tokens = tasks * a.n
    flops = step_flops(a.d, k_max, a.embd, a.layers, a.n, tasks)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result = {"framework": "pytorch " + torch.__version__, "threads": a.threads, "device": a.device,
              "steps": a.steps, "median_step_s": med, "min_step_s": min(times),
              "max_step_s": max(times), "p25_step_s": q[0], "p75_step_s": q[2],
              "tokens_per_s": tokens / med, "gflops": flops / med / 1e9,
              "peak_rss_mib": peak_mib,
              **({"peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20}
                 if dev.type == "cuda" else {}),
              "parameters": sum(p.numel() for p in model.parameters())}
    if a.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>14}: {value}")


if __name__ == "__main__":
    main()
