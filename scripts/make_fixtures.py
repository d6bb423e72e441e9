#!/usr/bin/python3
"""Generate extra LSTM golden fixtures ("lstm-golden-fixture", format_version 1), and with --gru
format-2 GRU fixtures (test/fixtures/v2/README.md; the section "Format 2" below).

Reference: torch.nn.LSTM + torch.nn.Linear head in torch.float64 (torch 1.13, CPU). The file
format and every convention follow test/fixtures/README.md exactly; this script writes the same
layout, field names and number formatting (Python repr, i.e. shortest round-trip) as the public
set in test/fixtures/.

Every fixture is computed twice before it is written:
  1. with nn.LSTM (the values that are written: outputs, loss, grads, optimizer/clipping replays);
  2. with an explicit per-timestep loop that follows only the README conventions (gate order
     i, f, g, o; both biases; reverse direction time alignment; layouts; the three losses), with
     gradients by autograd through that loop. The intermediates (gates, c, h) come from this loop.
All outputs, the loss and every gradient must agree to 1e-10 element-wise
(|a - e| <= 1e-10 * max(|e|, 1e-6 * max|e|)) or the script aborts. Optimizer steps are replayed
by hand (SGD and Adam formulas from the README, on loop gradients) and clipping is recomputed by
hand, with the same check.

Deterministic: every random draw comes from a torch.Generator seeded per fixture; the seed is
2_000_000 + crc32(name) % 1_000_000 and is recorded in `generator.seed`.

Usage:
  /usr/bin/python3 scripts/make_fixtures.py                 # writes test/fixtures-extra/*.json
  /usr/bin/python3 scripts/make_fixtures.py --out DIR
  /usr/bin/python3 scripts/make_fixtures.py --gru           # format 2: GRU fixtures (nn.GRU, checked
      against an explicit loop of the v2 README's equations) into test/fixtures-extra/v2/
  /usr/bin/python3 scripts/make_fixtures.py --check-gru     # recompute test/fixtures/v2/gru_*.json
      from their own params and inputs (nn.GRU and the loop) and compare
  /usr/bin/python3 scripts/make_fixtures.py --check-public  # regenerate the public set from the
      seeds and configs recorded in test/fixtures/*.json and compare (self-test of this script)
"""

import argparse
import json
import math
import os
import platform
import sys
import zlib

import numpy
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
DT = torch.float64
CHECK_TOL = 1e-10

SCRIPT = "scripts/make_fixtures.py"
RNG_TEXT = (
    "torch.Generator().manual_seed(seed); draw order: params (param_order, U(-k,k), k=1/sqrt(H) "
    "for lstm, 1/sqrt(D*H) for head), x ~ N(0,1), [h0 ~ U(-1,1), c0 ~ N(0,1) if random], "
    "targets (N(0,1) or uniform int classes)"
)

# --------------------------------------------------------------------------------------------
# Configurations
# --------------------------------------------------------------------------------------------

# name: (I, H, L, bidirectional, T, B, batch_first, O for sum_sq/mse_last, C for xent)
EXTRA_CONFIGS = {
    "deep3": (5, 7, 3, False, 9, 3, False, 3, 5),
    "bidir3_bf": (3, 5, 3, True, 7, 3, True, 3, 7),
    "h1_l2": (3, 1, 2, False, 6, 4, False, 2, 3),
    "t1_bidir_bf": (4, 3, 2, True, 1, 5, True, 3, 5),
    "long60": (3, 6, 1, False, 60, 1, False, 2, 5),
    "narrow_deep": (1, 2, 4, False, 7, 3, False, 1, 3),
    "bidir_bf": (6, 5, 2, True, 6, 3, True, 3, 7),
    "bf_stacked": (3, 9, 2, False, 5, 7, True, 5, 5),
    "bidir_t2": (2, 3, 1, True, 2, 1, False, 1, 3),
    "wide_in": (13, 3, 1, False, 4, 2, False, 3, 11),
    "bidir_long": (2, 3, 1, True, 23, 2, False, 1, 3),
    "deep3_bidir": (2, 2, 3, True, 4, 2, False, 1, 2),
    "t1_deep": (2, 5, 3, False, 1, 3, False, 3, 3),
    "bidir_bf_small": (3, 3, 2, True, 4, 3, True, 2, 3),
}

# (config, loss, init_state, kind, extra) ; kind: plain | optim | clip
EXTRA_FIXTURES = [
    ("deep3", "sum_sq", "random", "plain", None),
    ("bidir3_bf", "mse_last", "random", "plain", None),
    ("h1_l2", "sum_sq", "zeros", "plain", None),
    ("t1_bidir_bf", "xent", "random", "plain", None),
    ("long60", "mse_last", "random", "plain", None),
    ("narrow_deep", "xent", "zeros", "plain", None),
    ("bidir_bf", "xent", "random", "plain", None),
    ("bf_stacked", "sum_sq", "zeros", "plain", None),
    ("bidir_t2", "mse_last", "zeros", "plain", None),
    ("wide_in", "xent", "random", "plain", None),
    ("bidir_long", "sum_sq", "random", "plain", None),
    ("deep3_bidir", "xent", "zeros", "plain", None),
    ("t1_deep", "mse_last", "random", "plain", None),
    ("bidir_bf_small", "sum_sq", "random", "optim", None),
    ("bidir_bf_small", "mse_last", "random", "clip", {"max_norm": 0.5}),
]

# --------------------------------------------------------------------------------------------
# Fixed text (identical to the public set)
# --------------------------------------------------------------------------------------------

LOSS_TEXT = {
    "sum_sq": (
        "z[t,b,:] = head.weight @ y[t,b,:] + head.bias  (O = head_out_size outputs); loss = 0.5 * "
        "sum over t, b, o of (z[t,b,o] - targets[t,b,o])^2  (plain sum over time, batch and "
        "outputs; no mean). targets layout = layout of y with last dim O."
    ),
    "mse_last": (
        "sequence-to-one. h_last[b,:] = y[T-1,b,:] (the last-layer output at the last time index, "
        "i.e. y[:, T-1, :] when batch_first; for bidirectional this is [forward h after x_{T-1} | "
        "reverse h after x_{T-1} only], NOT [h_n fwd | h_n rev]); z[b,:] = head.weight @ "
        "h_last[b,:] + head.bias; loss = mean over b, o of (z[b,o] - targets[b,o])^2 = sum/(B*O) "
        "(torch.nn.functional.mse_loss, reduction='mean'). targets shape [B, O]."
    ),
    "xent": (
        "character-model style. z[t,b,:] = head.weight @ y[t,b,:] + head.bias  (C = head_out_size "
        "classes); loss = mean over the T*B positions of -log softmax(z[t,b,:])[targets[t,b]] "
        "(torch.nn.functional.cross_entropy, reduction='mean'). targets are int64 class indices "
        "with the layout of y minus the last dim ([T,B], or [B,T] when batch_first)."
    ),
}


def conventions(loss):
    return {
        "reference": "torch.nn.LSTM + torch.nn.Linear head, computed in torch.float64",
        "array_encoding": (
            "every array is {shape, dtype, data}; data is the flat row-major (C-order) list, so "
            "element [i0,..,ik] is data[((i0*s1 + i1)*s2 + i2)...]."
        ),
        "symbols": (
            "I=input_size, H=hidden_size, L=num_layers, D=2 if bidirectional else 1, T=seq_len, "
            "B=batch, O=head_out_size"
        ),
        "gate_order": (
            "the 4H rows of weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} are 4 "
            "consecutive blocks of H rows in the order i (input gate), f (forget gate), g (cell "
            "candidate), o (output gate)."
        ),
        "cell": (
            "a = W_ih x_t + b_ih + W_hh h_prev + b_hh; i = sigmoid(a[0:H]); f = sigmoid(a[H:2H]); "
            "g = tanh(a[2H:3H]); o = sigmoid(a[3H:4H]); c_t = f*c_prev + i*g; h_t = o*tanh(c_t). "
            "Both biases are added. No peepholes, no projection, dropout 0."
        ),
        "parameters": (
            "'lstm.weight_ih_l{k}' [4H, I] for k=0 and [4H, D*H] for k>0; 'lstm.weight_hh_l{k}' "
            "[4H, H]; 'lstm.bias_ih_l{k}' [4H]; 'lstm.bias_hh_l{k}' [4H]; the reverse direction "
            "uses the same names with suffix '_reverse'. 'head.weight' [O, D*H], 'head.bias' [O]. "
            "param_order lists them in torch named_parameters() order (lstm first, then head)."
        ),
        "layout": (
            "batch_first=false: x [T, B, I], y [T, B, D*H]. batch_first=true: x [B, T, I], y "
            "[B, T, D*H]. h0, c0, h_n, c_n are ALWAYS [L*D, B, H] (also when batch_first) with "
            "first index layer*D + direction (direction 0 forward, 1 reverse)."
        ),
        "bidirectional": (
            "y[..., 0:H] is the forward direction, y[..., H:2H] the reverse direction. The reverse "
            "direction starts from h0[layer*D+1], c0[layer*D+1], processes t = T-1 down to 0, and "
            "writes its state after consuming x_t at time index t; its h_n/c_n entry is its state "
            "after t=0. Layer k>0 takes the full y of layer k-1 (width D*H) as input."
        ),
        "outputs": (
            "y = hidden states of the LAST layer at every time step; h_n, c_n = final states of "
            "every layer/direction."
        ),
        "intermediates": (
            "per layer/direction key 'l{k}' or 'l{k}_reverse': gates [T, B, 4H] = post-activation "
            "[i | f | g | o], c [T, B, H], h [T, B, H]; ALWAYS time-major (even when batch_first) "
            "and indexed by the time of the consumed input."
        ),
        "loss": LOSS_TEXT[loss],
        "grads": (
            "grads[name] = d loss / d tensor with the tensor's shape, for every name in param_order "
            "and for 'x', 'h0', 'c0' (given even when h0/c0 are zeros)."
        ),
    }


OPT_NOTES = (
    "each step: zero grads, loss on (x, h0, c0, targets) with current params, backward, update. "
    "h0/c0/x are not optimized. params before step 1 = 'params'."
)
SGD_RULE = "torch.optim.SGD, no momentum: p <- p - lr * grad"
ADAM_RULE = (
    "torch.optim.Adam (PyTorch semantics), step count t starting at 1, m and v start at 0: "
    "m <- b1*m + (1-b1)*g; v <- b2*v + (1-b2)*g*g; p <- p - (lr / (1 - b1^t)) * m / "
    "(sqrt(v) / sqrt(1 - b2^t) + eps)   (eps is added AFTER the bias-corrected sqrt). "
    "exp_avg = m, exp_avg_sq = v after the step."
)
CLIP_RULE = (
    "torch.nn.utils.clip_grad_norm_(all params in param_order, max_norm, norm_type=2): "
    "total_norm = sqrt(sum over all params and entries of grad^2); clip_coef = max_norm / "
    "(total_norm + 1e-6); scale = min(clip_coef, 1); grad <- grad * scale. x, h0, c0 grads are "
    "NOT included."
)

# --------------------------------------------------------------------------------------------
# JSON output in the public files' exact layout
# --------------------------------------------------------------------------------------------


def dump(o, ind=0):
    """2-space indented objects; lists of scalars on one line without spaces; floats as repr."""
    p = "  " * ind
    if isinstance(o, dict):
        if not o:
            return "{}"
        items = [f"{p}  {json.dumps(k)}: {dump(v, ind + 1)}" for k, v in o.items()]
        return "{\n" + ",\n".join(items) + "\n" + p + "}"
    if isinstance(o, list):
        if any(isinstance(x, (dict, list)) for x in o):
            items = [f"{p}  {dump(v, ind + 1)}" for v in o]
            return "[\n" + ",\n".join(items) + "\n" + p + "]"
        return json.dumps(o, separators=(",", ":"), allow_nan=False)
    if isinstance(o, float) and not math.isfinite(o):
        raise ValueError("non-finite number")
    return json.dumps(o)


def arr(t):
    t = t.detach().contiguous()
    if t.dtype == torch.int64:
        return {"shape": list(t.shape), "dtype": "int64", "data": [int(v) for v in t.flatten().tolist()]}
    assert t.dtype == DT, t.dtype
    return {"shape": list(t.shape), "dtype": "float64", "data": [float(v) for v in t.flatten().tolist()]}


# --------------------------------------------------------------------------------------------
# Model pieces
# --------------------------------------------------------------------------------------------


class Cfg:
    # PyTorch module name of the recurrent layer and its gates per hidden unit (GruCfg: gru, 3).
    module, gates = "lstm", 4

    def __init__(self, name, I, H, L, bidir, T, B, bf, O_reg, C, loss):
        self.name, self.I, self.H, self.L, self.bidir = name, I, H, L, bidir
        self.T, self.B, self.bf, self.loss = T, B, bf, loss
        self.D = 2 if bidir else 1
        self.O = C if loss == "xent" else O_reg

    def param_shapes(self):
        out = []
        for k in range(self.L):
            for d in range(self.D):
                sfx = f"l{k}" + ("_reverse" if d == 1 else "")
                inw = self.I if k == 0 else self.D * self.H
                G, m = self.gates * self.H, self.module
                out += [
                    (f"{m}.weight_ih_{sfx}", [G, inw]),
                    (f"{m}.weight_hh_{sfx}", [G, self.H]),
                    (f"{m}.bias_ih_{sfx}", [G]),
                    (f"{m}.bias_hh_{sfx}", [G]),
                ]
        out += [("head.weight", [self.O, self.D * self.H]), ("head.bias", [self.O])]
        return out

    def seq(self, w):
        return [self.B, self.T, w] if self.bf else [self.T, self.B, w]

    def target_shape(self):
        if self.loss == "sum_sq":
            return self.seq(self.O)
        if self.loss == "mse_last":
            return [self.B, self.O]
        return [self.B, self.T] if self.bf else [self.T, self.B]


def draw_params_x(cfg, g):
    """The first draws of every fixture: parameters (U(-k, k)) in param_order, then x ~ N(0, 1)."""
    params = {}
    for name, shape in cfg.param_shapes():
        k = 1.0 / math.sqrt(cfg.D * cfg.H if name.startswith("head.") else cfg.H)
        params[name] = torch.empty(shape, dtype=DT).uniform_(-k, k, generator=g)
    x = torch.randn(cfg.seq(cfg.I), generator=g, dtype=DT)
    return params, x


def draw_targets(cfg, g):
    """The last draw of every fixture: class ids for xent, N(0, 1) values otherwise."""
    if cfg.loss == "xent":
        return torch.randint(0, cfg.O, cfg.target_shape(), generator=g, dtype=torch.int64)
    return torch.randn(cfg.target_shape(), generator=g, dtype=DT)


def draw(cfg, seed, init_state):
    """params, x, h0 (U(-1, 1) or zeros), c0 for an LSTM (N(0, 1) or zeros), targets: in draw order."""
    g = torch.Generator().manual_seed(seed)
    params, x = draw_params_x(cfg, g)
    st = [cfg.L * cfg.D, cfg.B, cfg.H]
    random = init_state == "random"
    states = [torch.empty(st, dtype=DT).uniform_(-1.0, 1.0, generator=g) if random else torch.zeros(st, dtype=DT)]
    if cfg.module == "lstm":
        states.append(torch.randn(st, generator=g, dtype=DT) if random else torch.zeros(st, dtype=DT))
    return (params, x, *states, draw_targets(cfg, g))


def build_torch(cfg, params, rnn_class=torch.nn.LSTM):
    """cfg.module (torch.nn.LSTM or GRU) and the nn.Linear head holding params."""
    rnn = rnn_class(
        cfg.I, cfg.H, num_layers=cfg.L, bidirectional=cfg.bidir, batch_first=cfg.bf, dropout=0.0
    ).to(DT)
    head = torch.nn.Linear(cfg.D * cfg.H, cfg.O).to(DT)
    mod = torch.nn.ModuleDict({cfg.module: rnn, "head": head})
    names = [n for n, _ in mod.named_parameters()]
    want = [n for n, _ in cfg.param_shapes()]
    assert names == want, (names, want)
    with torch.no_grad():
        for n, p in mod.named_parameters():
            assert list(p.shape) == list(params[n].shape), n
            p.copy_(params[n])
    return mod


def torch_head_loss(cfg, head, y, targets):
    """The fixture's loss of the recurrent output y through the torch head (nn.functional)."""
    if cfg.loss == "mse_last":
        h_last = y[:, cfg.T - 1] if cfg.bf else y[cfg.T - 1]
        return F.mse_loss(head(h_last), targets, reduction="mean")
    if cfg.loss == "sum_sq":
        return 0.5 * ((head(y) - targets) ** 2).sum()
    z = head(y)
    return F.cross_entropy(z.reshape(-1, cfg.O), targets.reshape(-1), reduction="mean")


def torch_loss(cfg, mod, x, h0, c0, targets):
    y, (hn, cn) = mod["lstm"](x, (h0, c0))
    return torch_head_loss(cfg, mod["head"], y, targets), y, hn, cn


def loop_forward(cfg, P, x, h0, c0, targets):
    """Explicit per-timestep loop following only the README conventions."""
    H, T, B, D = cfg.H, cfg.T, cfg.B, cfg.D
    xs = x.transpose(0, 1) if cfg.bf else x  # time-major [T, B, *]
    inp = [xs[t] for t in range(T)]
    inter = {}
    hn, cn = [], []
    for k in range(cfg.L):
        outs = []  # per direction: list over t of [B, H]
        for d in range(D):
            sfx = f"l{k}" + ("_reverse" if d == 1 else "")
            Wih, Whh = P[f"lstm.weight_ih_{sfx}"], P[f"lstm.weight_hh_{sfx}"]
            bih, bhh = P[f"lstm.bias_ih_{sfx}"], P[f"lstm.bias_hh_{sfx}"]
            h, c = h0[k * D + d], c0[k * D + d]
            hs, cs, gs = [None] * T, [None] * T, [None] * T
            order = range(T) if d == 0 else range(T - 1, -1, -1)
            for t in order:
                # same value as W_ih x_t + b_ih + W_hh h + b_hh; this grouping is the one that
                # reproduces the public intermediates bit for bit (see --check-public)
                a = inp[t] @ Wih.T + h @ Whh.T + (bih + bhh)
                i = torch.sigmoid(a[:, 0:H])
                f = torch.sigmoid(a[:, H : 2 * H])
                gg = torch.tanh(a[:, 2 * H : 3 * H])
                o = torch.sigmoid(a[:, 3 * H : 4 * H])
                c = f * c + i * gg
                h = o * torch.tanh(c)
                hs[t], cs[t], gs[t] = h, c, torch.cat([i, f, gg, o], dim=1)
            hn.append(h)
            cn.append(c)
            inter[sfx] = {"gates": torch.stack(gs), "c": torch.stack(cs), "h": torch.stack(hs)}
            outs.append(hs)
        inp = [torch.cat([outs[d][t] for d in range(D)], dim=1) for t in range(T)]
    y_tm = torch.stack(inp)  # [T, B, D*H]
    W, bvec = P["head.weight"], P["head.bias"]
    if cfg.loss == "mse_last":
        z = y_tm[T - 1] @ W.T + bvec
        loss = ((z - targets) ** 2).sum() / (B * cfg.O)
    elif cfg.loss == "sum_sq":
        tg = targets.transpose(0, 1) if cfg.bf else targets
        total = y_tm.new_zeros(())
        for t in range(T):
            z = y_tm[t] @ W.T + bvec
            total = total + ((z - tg[t]) ** 2).sum()
        loss = 0.5 * total
    else:
        tg = targets.transpose(0, 1) if cfg.bf else targets
        total = y_tm.new_zeros(())
        for t in range(T):
            z = y_tm[t] @ W.T + bvec
            m = z.max(dim=1, keepdim=True).values
            lse = (m + torch.log(torch.exp(z - m).sum(dim=1, keepdim=True))).squeeze(1)
            picked = z[torch.arange(B), tg[t]]
            total = total + (lse - picked).sum()
        loss = total / (T * B)
    y = y_tm.transpose(0, 1) if cfg.bf else y_tm
    return loss, y, torch.stack(hn), torch.stack(cn), inter


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def check_close(what, actual, expected, tol=CHECK_TOL):
    a = torch.as_tensor(actual, dtype=DT).detach().flatten()
    e = torch.as_tensor(expected, dtype=DT).detach().flatten()
    assert a.shape == e.shape, (what, a.shape, e.shape)
    if e.numel() == 0:
        return 0.0
    M = float(e.abs().max())
    floor = torch.clamp(e.abs(), min=1e-6 * M)
    err = (a - e).abs()
    bad = err > tol * floor
    if M == 0.0:
        bad = err > 0
    if bool(bad.any()):
        j = int(bad.nonzero()[0])
        raise AssertionError(
            f"{what}: element {j}: {float(a[j])!r} vs {float(e[j])!r} (M={M!r}, tol={tol})"
        )
    return float(err.max()) / M if M > 0 else 0.0


def grads_of(loss, tensors):
    gs = torch.autograd.grad(loss, tensors, allow_unused=False)
    return [g.detach() for g in gs]


def lstm_results(names, outputs, grads):
    """Detached loss, y, h_n, c_n and the gradients of the params in names, then x, h0, c0."""
    loss, y, hn, cn = outputs
    return {
        "loss": float(loss.detach()),
        "y": y.detach(),
        "h_n": hn.detach(),
        "c_n": cn.detach(),
        "grads": dict(zip(names + ["x", "h0", "c0"], grads)),
    }


def compute(cfg, params, x, h0, c0, targets):
    """Returns the nn.LSTM results and the loop results (checked against each other)."""
    names = [n for n, _ in cfg.param_shapes()]
    mod = build_torch(cfg, params)
    xr, h0r, c0r = (t.clone().requires_grad_(True) for t in (x, h0, c0))
    loss, y, hn, cn = torch_loss(cfg, mod, xr, h0r, c0r, targets)
    plist = dict(mod.named_parameters())
    g = grads_of(loss, [plist[n] for n in names] + [xr, h0r, c0r])
    ref = lstm_results(names, (loss, y, hn, cn), g)

    P = {n: params[n].clone().requires_grad_(True) for n in names}
    xl, h0l, c0l = (t.clone().requires_grad_(True) for t in (x, h0, c0))
    lloss, ly, lhn, lcn, inter = loop_forward(cfg, P, xl, h0l, c0l, targets)
    lg = grads_of(lloss, [P[n] for n in names] + [xl, h0l, c0l])
    loop = {
        **lstm_results(names, (lloss, ly, lhn, lcn), lg),
        "inter": {k: {kk: vv.detach() for kk, vv in v.items()} for k, v in inter.items()},
    }

    worst = 0.0
    worst = max(worst, check_close(f"{cfg.name}: loss", loop["loss"], ref["loss"]))
    for k in ("y", "h_n", "c_n"):
        worst = max(worst, check_close(f"{cfg.name}: {k}", loop[k], ref[k]))
    for n in names + ["x", "h0", "c0"]:
        worst = max(worst, check_close(f"{cfg.name}: grads.{n}", loop["grads"][n], ref["grads"][n]))
    # intermediates' h of the last layer are y; their last states are h_n/c_n
    D, H = cfg.D, cfg.H
    y_tm = ref["y"].transpose(0, 1) if cfg.bf else ref["y"]
    for d in range(D):
        sfx = f"l{cfg.L - 1}" + ("_reverse" if d == 1 else "")
        check_close(f"{cfg.name}: inter {sfx}.h vs y", loop["inter"][sfx]["h"], y_tm[..., d * H : (d + 1) * H])
    for k in range(cfg.L):
        for d in range(D):
            sfx = f"l{k}" + ("_reverse" if d == 1 else "")
            tlast = cfg.T - 1 if d == 0 else 0
            check_close(f"{cfg.name}: inter {sfx}.c end", loop["inter"][sfx]["c"][tlast], ref["c_n"][k * D + d])
    return mod, ref, loop, worst


def loop_loss_and_grads(cfg, params, x, h0, c0, targets):
    names = [n for n, _ in cfg.param_shapes()]
    P = {n: params[n].clone().requires_grad_(True) for n in names}
    loss, *_ = loop_forward(cfg, P, x, h0, c0, targets)
    g = grads_of(loss, [P[n] for n in names])
    return float(loss.detach()), dict(zip(names, g))


def optimizer_section(cfg, params, x, h0, c0, targets):
    names = [n for n, _ in cfg.param_shapes()]
    out = {}
    for kind in ("sgd", "adam"):
        mod = build_torch(cfg, params)
        plist = dict(mod.named_parameters())
        plist_ordered = [plist[n] for n in names]
        if kind == "sgd":
            opt = torch.optim.SGD(plist_ordered, lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)
            hyper = {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}
            rule = SGD_RULE
        else:
            opt = torch.optim.Adam(plist_ordered, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)
            hyper = {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-08, "weight_decay": 0.0, "amsgrad": False}
            rule = ADAM_RULE
        # independent replay state (loop gradients, README formulas)
        rp = {n: params[n].clone() for n in names}
        m = {n: torch.zeros_like(params[n]) for n in names}
        v = {n: torch.zeros_like(params[n]) for n in names}
        steps = []
        for step in range(1, 4):
            opt.zero_grad(set_to_none=True)
            loss, _, _, _ = torch_loss(cfg, mod, x, h0, c0, targets)
            loss.backward()
            grads = {n: plist[n].grad.detach().clone() for n in names}
            opt.step()
            entry = {
                "step": step,
                "loss_before": float(loss.detach()),
                "grads": {n: arr(grads[n]) for n in names},
                "params_after": {n: arr(plist[n].detach()) for n in names},
            }
            # replay
            rl, rg = loop_loss_and_grads(cfg, rp, x, h0, c0, targets)
            check_close(f"{cfg.name}: {kind} step {step} loss_before", rl, entry["loss_before"])
            for n in names:
                check_close(f"{cfg.name}: {kind} step {step} grads.{n}", rg[n], grads[n])
                if kind == "sgd":
                    rp[n] = rp[n] - 0.1 * rg[n]
                else:
                    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.01
                    m[n] = b1 * m[n] + (1 - b1) * rg[n]
                    v[n] = b2 * v[n] + (1 - b2) * rg[n] * rg[n]
                    denom = v[n].sqrt() / math.sqrt(1 - b2**step) + eps
                    rp[n] = rp[n] - (lr / (1 - b1**step)) * m[n] / denom
                check_close(f"{cfg.name}: {kind} step {step} params_after.{n}", rp[n], plist[n].detach())
            if kind == "adam":
                st = opt.state
                entry["exp_avg"] = {n: arr(st[plist[n]]["exp_avg"]) for n in names}
                entry["exp_avg_sq"] = {n: arr(st[plist[n]]["exp_avg_sq"]) for n in names}
                for n in names:
                    check_close(f"{cfg.name}: adam step {step} exp_avg.{n}", m[n], st[plist[n]]["exp_avg"])
                    check_close(f"{cfg.name}: adam step {step} exp_avg_sq.{n}", v[n], st[plist[n]]["exp_avg_sq"])
            steps.append(entry)
        with torch.no_grad():
            final, _, _, _ = torch_loss(cfg, mod, x, h0, c0, targets)
        rl, _ = loop_loss_and_grads(cfg, rp, x, h0, c0, targets)
        check_close(f"{cfg.name}: {kind} loss_after_last_step", rl, float(final))
        out[kind] = {
            "hyperparameters": hyper,
            "update_rule": rule,
            "num_steps": 3,
            "notes": OPT_NOTES,
            "steps": steps,
            "loss_after_last_step": float(final),
        }
    return out


def clipping_section(cfg, params, x, h0, c0, targets, max_norm):
    names = [n for n, _ in cfg.param_shapes()]
    mod = build_torch(cfg, params)
    plist = dict(mod.named_parameters())
    loss, _, _, _ = torch_loss(cfg, mod, x, h0, c0, targets)
    loss.backward()
    before = {n: plist[n].grad.detach().clone() for n in names}
    ps = [plist[n] for n in names]
    total = float(torch.nn.utils.clip_grad_norm_(ps, max_norm=max_norm, norm_type=2.0))
    after = {n: plist[n].grad.detach().clone() for n in names}
    clip_coef = max_norm / (total + 1e-6)
    scale = min(clip_coef, 1.0)
    total_after = float(torch.norm(torch.stack([torch.norm(after[n], 2.0) for n in names]), 2.0))
    # independent recomputation from the loop gradients
    _, lg = loop_loss_and_grads(cfg, params, x, h0, c0, targets)
    ltotal = math.sqrt(sum(float((lg[n] ** 2).sum()) for n in names))
    check_close(f"{cfg.name}: clip total_norm_before", ltotal, total)
    lscale = min(max_norm / (ltotal + 1e-6), 1.0)
    for n in names:
        check_close(f"{cfg.name}: clip grads_after.{n}", lg[n] * lscale, after[n])
    check_close(f"{cfg.name}: clip total_norm_after", ltotal * lscale, total_after)
    assert total > max_norm, f"{cfg.name}: clipping is not active (total_norm {total} <= {max_norm})"
    return {
        "max_norm": float(max_norm),
        "norm_type": 2.0,
        "eps": 1e-06,
        "rule": CLIP_RULE,
        "applies_to": list(names),
        "total_norm_before": total,
        "clip_coef": clip_coef,
        "scale_applied": scale,
        "total_norm_after": total_after,
        "grads_before": {n: arr(before[n]) for n in names},
        "grads_after": {n: arr(after[n]) for n in names},
    }


# --------------------------------------------------------------------------------------------
# Fixture assembly
# --------------------------------------------------------------------------------------------


def describe(cfgname, cfg, init_state):
    return (
        f"{cfgname} config (I={cfg.I}, H={cfg.H}, L={cfg.L}, "
        f"{'bidirectional' if cfg.bidir else 'unidirectional'}, T={cfg.T}, B={cfg.B}, "
        f"batch_first={'true' if cfg.bf else 'false'}), loss {cfg.loss}, {init_state} h0/c0"
    )


def make_fixture(cfgname, spec, loss, init_state, kind, extra, seed, set_name, script, command):
    I, H, L, bidir, T, B, bf, O_reg, C = spec
    prefix = {"plain": "", "optim": "optim_", "clip": "clip_"}[kind]
    name = f"{prefix}{cfgname}_{loss}"
    cfg = Cfg(name, I, H, L, bidir, T, B, bf, O_reg, C, loss)
    params, x, h0, c0, targets = draw(cfg, seed, init_state)
    mod, ref, loop, worst = compute(cfg, params, x, h0, c0, targets)
    names = [n for n, _ in cfg.param_shapes()]
    desc = describe(cfgname, cfg, init_state)
    if kind == "optim":
        desc += "; plus 3 steps of SGD and of Adam from these params (full batch, same data each step)"
    elif kind == "clip":
        desc += f"; plus clip_grad_norm_(max_norm={float(extra['max_norm'])!r}) of the parameter grads"
    fx = {
        "format": "lstm-golden-fixture",
        "format_version": 1,
        "name": name,
        "set": set_name,
        "description": desc,
        "generator": generator_info(script, command, seed, RNG_TEXT),
        "conventions": conventions(loss),
        "config": {
            "input_size": I,
            "hidden_size": H,
            "num_layers": L,
            **run_config(cfg, init_state),
        },
        "param_order": names,
        "params": {n: arr(params[n]) for n in names},
        "inputs": {"x": arr(x), "h0": arr(h0), "c0": arr(c0), "targets": arr(targets)},
        "outputs": {"y": arr(ref["y"]), "h_n": arr(ref["h_n"]), "c_n": arr(ref["c_n"]), "loss": ref["loss"]},
        "grads": {n: arr(ref["grads"][n]) for n in names + ["x", "h0", "c0"]},
        "intermediates": {
            k: {kk: arr(loop["inter"][k][kk]) for kk in ("gates", "c", "h")} for k in loop["inter"]
        },
    }
    if kind == "optim":
        fx["optimizers"] = optimizer_section(cfg, params, x, h0, c0, targets)
        o = fx["optimizers"]
        assert o["sgd"]["steps"][0]["loss_before"] == fx["outputs"]["loss"]
    elif kind == "clip":
        fx["clipping"] = clipping_section(cfg, params, x, h0, c0, targets, extra["max_norm"])
    return name, fx, worst


def seed_for(name):
    return 2_000_000 + zlib.crc32(name.encode("utf-8")) % 1_000_000


def generate_extra(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rel_out = os.path.relpath(out_dir)
    command = f"/usr/bin/python3 {SCRIPT}" + ("" if rel_out == "test/fixtures-extra" else f" --out {rel_out}")
    total = 0
    rows = []
    for cfgname, loss, init_state, kind, extra in EXTRA_FIXTURES:
        prefix = {"plain": "", "optim": "optim_", "clip": "clip_"}[kind]
        name = f"{prefix}{cfgname}_{loss}"
        seed = seed_for(name)
        name2, fx, worst = make_fixture(
            cfgname, EXTRA_CONFIGS[cfgname], loss, init_state, kind, extra, seed, "extra", SCRIPT, command
        )
        assert name2 == name
        text, size = fixture_text(name, fx)
        with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as fh:
            fh.write(text)
        total += size
        rows.append((name, size, worst))
        print(f"{name:34s} seed {seed}  {size:7d} bytes  loop-vs-nn.LSTM max scaled err {worst:.2e}")
    assert total < 3_000_000, total
    print(f"{len(rows)} files, {total} bytes in {rel_out}")


def check_public(pub_dir):
    """Regenerate the public fixtures from their recorded seeds and configs and compare."""
    import glob

    ok = True
    for path in sorted(glob.glob(os.path.join(pub_dir, "*.json"))):
        raw = open(path, encoding="utf-8").read()
        d = json.loads(raw)
        c = d["config"]
        name = d["name"]
        kind = "optim" if name.startswith("optim_") else "clip" if name.startswith("clip_") else "plain"
        cfgname = name[len({"plain": "", "optim": "optim_", "clip": "clip_"}[kind]) :]
        cfgname = cfgname[: -len("_" + c["loss"])]
        O = c["head_out_size"]
        spec = (c["input_size"], c["hidden_size"], c["num_layers"], c["bidirectional"], c["seq_len"],
                c["batch"], c["batch_first"], O, O)
        extra = {"max_norm": d["clipping"]["max_norm"]} if kind == "clip" else None
        _, fx, _ = make_fixture(cfgname, spec, c["loss"], c["init_state"], kind, extra, d["generator"]["seed"],
                                d["set"], d["generator"]["script"], d["generator"]["command"])
        text = dump(fx) + "\n"
        if text == raw:
            print(f"{name:28s} byte-identical")
            continue
        # compare numerically
        worst = {}

        def walk(a, b, path_):
            if isinstance(a, dict) and set(a) == {"shape", "dtype", "data"}:
                assert a["shape"] == b["shape"], path_
                ea = torch.tensor(a["data"], dtype=DT)
                eb = torch.tensor(b["data"], dtype=DT)
                M = float(eb.abs().max()) if eb.numel() else 0.0
                e = float((ea - eb).abs().max()) / M if M > 0 else float((ea - eb).abs().max())
                if e > 0:
                    worst[path_] = e
            elif isinstance(a, dict):
                assert set(a) == set(b), (path_, set(a) ^ set(b))
                for k in a:
                    walk(a[k], b[k], f"{path_}.{k}")
            elif isinstance(a, list) and a and isinstance(a[0], dict):
                for i, (u, v) in enumerate(zip(a, b)):
                    walk(u, v, f"{path_}[{i}]")
            elif isinstance(a, float):
                if a != b:
                    worst[path_] = abs(a - b) / max(abs(b), 1e-300)
            else:
                assert a == b, (path_, a, b)

        walk(fx, d, name)
        big = max(worst.values()) if worst else 0.0
        bad = big > 1e-12
        ok = ok and not bad
        top = sorted(worst.items(), key=lambda kv: -kv[1])[:3]
        print(f"{name:28s} differs in {len(worst)} arrays/numbers, max scaled diff {big:.1e} {'FAIL' if bad else ''}")
        for k, v in top:
            print(f"      {k}: {v:.1e}")
    print("public set reproduced" if ok else "public set NOT reproduced")
    return ok


# --------------------------------------------------------------------------------------------
# Format 2: GRU fixtures (nn.GRU), see test/fixtures/v2/README.md
# --------------------------------------------------------------------------------------------

# (config, loss, init_state): sizes and shapes the 23 public GRU files lack (3 layers, H = 1,
# T = 1, T = 60, B = 1, I > 3H, H = 9 and 13, bidirectional with batch_first, 7- and 11-class xent)
GRU_EXTRA_CONFIGS = dict(
    EXTRA_CONFIGS,
    h9_bidir_bf=(6, 9, 2, True, 6, 3, True, 3, 7),
    h13=(2, 13, 1, False, 5, 2, False, 2, 3),
)
GRU_EXTRA_FIXTURES = [
    ("deep3", "sum_sq", "random"),
    ("bidir3_bf", "mse_last", "random"),
    ("h1_l2", "sum_sq", "zeros"),
    ("t1_bidir_bf", "xent", "random"),
    ("long60", "mse_last", "random"),
    ("wide_in", "xent", "random"),
    ("h9_bidir_bf", "xent", "random"),
    ("h13", "sum_sq", "zeros"),
]
GRU_RNG_TEXT = (
    "torch.Generator().manual_seed(seed); draw order: params (param_order, U(-k,k), k=1/sqrt(H) "
    "for gru, 1/sqrt(D*H) for head), x ~ N(0,1), [h0 ~ U(-1,1) if random], targets (N(0,1) or "
    "uniform int classes)"
)


class GruCfg(Cfg):
    module, gates = "gru", 3


def head_loss(cfg, y_tm, W, bvec, targets):
    """The loss of the README on time-major y [T, B, D*H], written out (no nn.functional)."""
    T, B = cfg.T, cfg.B
    if cfg.loss == "mse_last":
        z = y_tm[T - 1] @ W.T + bvec
        return ((z - targets) ** 2).sum() / (B * cfg.O)
    tg = targets.transpose(0, 1) if cfg.bf else targets
    total = y_tm.new_zeros(())
    for t in range(T):
        z = y_tm[t] @ W.T + bvec
        if cfg.loss == "sum_sq":
            total = total + ((z - tg[t]) ** 2).sum()
        else:
            m = z.max(dim=1, keepdim=True).values
            lse = (m + torch.log(torch.exp(z - m).sum(dim=1, keepdim=True))).squeeze(1)
            total = total + (lse - z[torch.arange(B), tg[t]]).sum()
    return 0.5 * total if cfg.loss == "sum_sq" else total / (T * B)


def gru_torch_loss(cfg, mod, x, h0, targets):
    y, hn = mod["gru"](x, h0)
    return torch_head_loss(cfg, mod["head"], y, targets), y, hn


def gru_loop_forward(cfg, P, x, h0, targets):
    """Explicit per-timestep loop following only the v2 README's GRU equations."""
    H, T, D = cfg.H, cfg.T, cfg.D
    xs = x.transpose(0, 1) if cfg.bf else x
    inp = [xs[t] for t in range(T)]
    hn = []
    for k in range(cfg.L):
        outs = []
        for d in range(D):
            sfx = f"l{k}" + ("_reverse" if d == 1 else "")
            Wih, Whh = P[f"gru.weight_ih_{sfx}"], P[f"gru.weight_hh_{sfx}"]
            bih, bhh = P[f"gru.bias_ih_{sfx}"], P[f"gru.bias_hh_{sfx}"]
            h = h0[k * D + d]
            hs = [None] * T
            for t in range(T) if d == 0 else range(T - 1, -1, -1):
                xt = inp[t]
                blk = lambda v, j: v[..., j * H : (j + 1) * H]  # noqa: E731 (row block r, z, n)
                r = torch.sigmoid(xt @ blk(Wih.T, 0) + blk(bih, 0) + h @ blk(Whh.T, 0) + blk(bhh, 0))
                z = torch.sigmoid(xt @ blk(Wih.T, 1) + blk(bih, 1) + h @ blk(Whh.T, 1) + blk(bhh, 1))
                n = torch.tanh(xt @ blk(Wih.T, 2) + blk(bih, 2) + r * (h @ blk(Whh.T, 2) + blk(bhh, 2)))
                h = (1 - z) * n + z * h
                hs[t] = h
            hn.append(h)
            outs.append(hs)
        inp = [torch.cat([outs[d][t] for d in range(D)], dim=1) for t in range(T)]
    y_tm = torch.stack(inp)
    loss = head_loss(cfg, y_tm, P["head.weight"], P["head.bias"], targets)
    return loss, (y_tm.transpose(0, 1) if cfg.bf else y_tm), torch.stack(hn)


def gru_compute(cfg, params, x, h0, targets):
    """nn.GRU's results, checked against the explicit loop (values and autograd gradients)."""
    names = [n for n, _ in cfg.param_shapes()]
    mod = build_torch(cfg, params, torch.nn.GRU)
    xr, h0r = (t.clone().requires_grad_(True) for t in (x, h0))
    loss, y, hn = gru_torch_loss(cfg, mod, xr, h0r, targets)
    plist = dict(mod.named_parameters())
    g = grads_of(loss, [plist[n] for n in names] + [xr, h0r])
    ref = {"loss": float(loss.detach()), "y": y.detach(), "h_n": hn.detach()}
    ref["grads"] = dict(zip(names + ["x", "h0"], g))
    P = {n: params[n].clone().requires_grad_(True) for n in names}
    xl, h0l = (t.clone().requires_grad_(True) for t in (x, h0))
    lloss, ly, lhn = gru_loop_forward(cfg, P, xl, h0l, targets)
    lg = dict(zip(names + ["x", "h0"], grads_of(lloss, [P[n] for n in names] + [xl, h0l])))
    worst = check_close(f"{cfg.name}: loss", float(lloss.detach()), ref["loss"])
    worst = max(worst, check_close(f"{cfg.name}: y", ly, ref["y"]))
    worst = max(worst, check_close(f"{cfg.name}: h_n", lhn, ref["h_n"]))
    for n in names + ["x", "h0"]:
        worst = max(worst, check_close(f"{cfg.name}: grads.{n}", lg[n], ref["grads"][n]))
    return ref, worst


def generator_info(script, command, seed, rng_text):
    """The fixture's "generator" section: how to rerun it and with which versions."""
    return {
        "script": script,
        "command": command,
        "seed": seed,
        "rng": rng_text,
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
        "python_version": platform.python_version(),
    }


def run_config(cfg, init_state):
    """The "config" fields from "bidirectional" to "dtype", shared by format 1 and format 2."""
    return {
        "bidirectional": cfg.bidir,
        "num_directions": cfg.D,
        "seq_len": cfg.T,
        "batch": cfg.B,
        "batch_first": cfg.bf,
        "loss": cfg.loss,
        "head_out_size": cfg.O,
        "init_state": init_state,
        "dtype": "float64",
    }


def fixture_text(name, fx):
    """The fixture as written: JSON that reads back equal, under the 400 kB per-file budget."""
    text = dump(fx) + "\n"
    assert json.loads(text) == fx
    size = len(text.encode("utf-8"))
    assert size < 400_000, f"{name}: {size} bytes"
    return text, size


def make_gru_fixture(cfgname, spec, loss, init_state, seed, command):
    I, H, L, bidir, T, B, bf, O_reg, C = spec
    name = f"gru_{cfgname}_{loss}"
    cfg = GruCfg(name, I, H, L, bidir, T, B, bf, O_reg, C, loss)
    params, x, h0, targets = draw(cfg, seed, init_state)
    ref, worst = gru_compute(cfg, params, x, h0, targets)
    names = [n for n, _ in cfg.param_shapes()]
    fx = {
        "format": "lstm-golden-fixture",
        "format_version": 2,
        "name": name,
        "set": "extra",
        "generator": {
            **generator_info(SCRIPT, command, seed, GRU_RNG_TEXT),
            "values_from": "nn.GRU(num_layers, bidirectional, batch_first) + nn.Linear head",
            "cross_checked_with_explicit_loop": True,
        },
        "config": {
            "cell": "gru",
            "input_size": I,
            "hidden_size": H,
            "proj_size": 0,
            "num_layers": L,
            **run_config(cfg, init_state),
            "input": {"kind": "dense"},
            "tied_head": False,
            "dropout": None,
            "lengths": False,
        },
        "param_order": names,
        "params": {n: arr(params[n]) for n in names},
        "inputs": {"x": arr(x), "h0": arr(h0), "targets": arr(targets)},
        "outputs": {"y": arr(ref["y"]), "h_n": arr(ref["h_n"]), "loss": ref["loss"]},
        "grads": {n: arr(ref["grads"][n]) for n in names + ["x", "h0"]},
    }
    return name, fx, worst


def generate_gru_extra(out_dir):
    """Writes the format-2 GRU fixtures of GRU_EXTRA_FIXTURES into out_dir/v2."""
    out_dir = os.path.join(out_dir, "v2")
    os.makedirs(out_dir, exist_ok=True)
    rel_out = os.path.relpath(out_dir)
    command = f"/usr/bin/python3 {SCRIPT} --gru" + (
        "" if rel_out == "test/fixtures-extra/v2" else f" --out {os.path.dirname(rel_out)}"
    )
    for cfgname, loss, init_state in GRU_EXTRA_FIXTURES:
        name = f"gru_{cfgname}_{loss}"
        seed = seed_for(name)
        _, fx, worst = make_gru_fixture(cfgname, GRU_EXTRA_CONFIGS[cfgname], loss, init_state, seed, command)
        text, size = fixture_text(name, fx)
        path = os.path.join(out_dir, name + ".json")
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(path + ".tmp", path)
        print(f"{name:34s} seed {seed}  {size:7d} bytes  loop-vs-nn.GRU max scaled err {worst:.2e}")
    print(f"{len(GRU_EXTRA_FIXTURES)} files in {rel_out}")


def check_public_gru(pub_dir):
    """Recomputes every gru_*.json in pub_dir from its own params and inputs (nn.GRU and the
    explicit loop) and compares y, h_n, the loss and every gradient at 1e-10."""
    import glob

    ok = True
    for path in sorted(glob.glob(os.path.join(pub_dir, "gru_*.json"))):
        d = json.load(open(path, encoding="utf-8"))
        c = d["config"]
        O = c["head_out_size"]
        cfg = GruCfg(d["name"], c["input_size"], c["hidden_size"], c["num_layers"], c["bidirectional"],
                     c["seq_len"], c["batch"], c["batch_first"], O, O, c["loss"])
        t = lambda a: torch.tensor(a["data"], dtype=torch.int64 if a["dtype"] == "int64" else DT).reshape(a["shape"])  # noqa: E731
        params = {n: t(d["params"][n]) for n in d["param_order"]}
        inp = d["inputs"]
        try:
            ref, _ = gru_compute(cfg, params, t(inp["x"]), t(inp["h0"]), t(inp["targets"]))
            worst = check_close(f"{d['name']}: loss", ref["loss"], d["outputs"]["loss"])
            for k in ("y", "h_n"):
                worst = max(worst, check_close(f"{d['name']}: {k}", ref[k], t(d["outputs"][k])))
            for n, g in d["grads"].items():
                worst = max(worst, check_close(f"{d['name']}: grads.{n}", ref["grads"][n], t(g)))
            print(f"{d['name']:34s} max scaled diff {worst:.1e}")
        except AssertionError as e:
            ok = False
            print(f"{d['name']:34s} FAIL {e}")
    print("GRU fixtures reproduced" if ok else "GRU fixtures NOT reproduced")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap.add_argument("--out", default=os.path.join(root, "test", "fixtures-extra"))
    ap.add_argument("--check-public", nargs="?", const=os.path.join(root, "test", "fixtures"), default=None,
                    metavar="DIR", help="regenerate the public fixtures in DIR and compare")
    ap.add_argument("--check-gru", nargs="?", const=os.path.join(root, "test", "fixtures", "v2"), default=None,
                    metavar="DIR", help="recompute the format-2 GRU fixtures in DIR from their inputs and compare")
    ap.add_argument("--gru", action="store_true",
                    help="write the format-2 GRU fixtures (into OUT/v2) instead of the LSTM ones")
    args = ap.parse_args()
    if not torch.__version__.startswith("1.13"):
        print(f"warning: torch {torch.__version__}, the fixtures were defined with torch 1.13", file=sys.stderr)
    if args.check_gru is not None:
        sys.exit(0 if check_public_gru(args.check_gru) else 1)
    if args.check_public is not None:
        sys.exit(0 if check_public(args.check_public) else 1)
    os.chdir(root)
    if args.gru:
        generate_gru_extra(os.path.relpath(args.out, root))
    else:
        generate_extra(os.path.relpath(args.out, root))


if __name__ == "__main__":
    main()
