#!/usr/bin/env python3
"""Reference trajectories of torch.optim optimizers for src/optim/optimizers.test.ts.

Runs every optimizer kind with several option combinations for a few steps on one small float64
parameter vector, feeding an explicit, deterministic gradient per step (no model), and writes
test/optim-reference/optimizers.json: the parameters before, the gradient and learning rate
of every step, the parameters and every state buffer after every step.

Run with a Python that has torch (the tests only read the JSON, they never run this):
    /usr/bin/python3 scripts/make_optim_reference.py
"""
import json
import math
import os
import platform
import subprocess
import sys

import torch

N = 7  # parameters
STEPS = 5
SEED = 20240611

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "optim-reference",
                   "optimizers.json")

# name -> (torch class, torch kwargs, per-step lr or None to keep the constructor's lr)
CASES = [
    ("sgd_plain", "SGD", {"lr": 0.1}, None),
    ("sgd_momentum_dampening", "SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.25}, None),
    ("sgd_nesterov_wd", "SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True,
                                "weight_decay": 0.03}, None),
    ("sgd_momentum_lr_schedule", "SGD", {"lr": 0.1, "momentum": 0.5},
     [0.1, 0.2, 0.05, 0.0, 0.3]),
    ("adam_default", "Adam", {"lr": 1e-2}, None),
    ("adam_wd_amsgrad", "Adam", {"lr": 2e-2, "betas": (0.8, 0.99), "eps": 1e-6,
                                 "weight_decay": 0.1, "amsgrad": True}, None),
    # eps large against tiny gradients: the placement of eps (after the bias-corrected sqrt)
    # changes the result well beyond the test tolerance.
    ("adam_large_eps_small_grads", "Adam", {"lr": 1e-2, "eps": 1e-3}, None),
    ("adam_lr_schedule", "Adam", {"lr": 1e-2}, [1e-2, 5e-3, 2e-2, 1e-3, 1e-2]),
    ("adamw_default", "AdamW", {"lr": 1e-2}, None),
    ("adamw_amsgrad_wd", "AdamW", {"lr": 5e-2, "betas": (0.85, 0.95), "weight_decay": 0.2,
                                   "amsgrad": True}, [5e-2, 2.5e-2, 5e-2, 1e-2, 5e-2]),
    ("rmsprop_default", "RMSprop", {"lr": 1e-2}, None),
    ("rmsprop_centered_momentum_wd", "RMSprop", {"lr": 1e-2, "alpha": 0.9, "eps": 1e-6,
                                                 "momentum": 0.7, "centered": True,
                                                 "weight_decay": 0.05}, None),
    ("rmsprop_momentum", "RMSprop", {"lr": 3e-3, "momentum": 0.9}, None),
    ("rmsprop_centered", "RMSprop", {"lr": 1e-2, "centered": True}, None),
    ("adagrad_default", "Adagrad", {"lr": 1e-2}, None),
    ("adagrad_decay_init_wd", "Adagrad", {"lr": 0.1, "lr_decay": 0.05,
                                          "initial_accumulator_value": 0.1,
                                          "weight_decay": 0.01, "eps": 1e-8},
     [0.1, 0.1, 0.2, 0.05, 0.1]),
]

# torch kwarg -> camelCase option name used by the TypeScript library
CAMEL = {"lr": "lr", "momentum": "momentum", "dampening": "dampening", "nesterov": "nesterov",
         "weight_decay": "weightDecay", "betas": "betas", "eps": "eps", "amsgrad": "amsgrad",
         "alpha": "alpha", "centered": "centered", "lr_decay": "lrDecay",
         "initial_accumulator_value": "initialAccumulatorValue"}
KIND = {"SGD": "sgd", "Adam": "adam", "AdamW": "adamw", "RMSprop": "rmsprop",
        "Adagrad": "adagrad"}


def floats(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def main():
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    p0 = torch.randn(N, generator=g, dtype=torch.float64)
    grads = []
    for s in range(STEPS):
        gs = torch.randn(N, generator=g, dtype=torch.float64)
        # a spread of magnitudes: one exact zero, tiny and large entries
        gs[0] = 0.0
        gs[1] *= 1e-6
        gs[2] *= 1e3 if s % 2 == 0 else 1e-2
        grads.append(gs)
    small = [gs * 1e-4 for gs in grads]

    cases = []
    for name, cls, kw, lrs in CASES:
        step_grads = small if name == "adam_large_eps_small_grads" else grads
        p = torch.nn.Parameter(p0.clone())
        opt = getattr(torch.optim, cls)([p], foreach=False, **kw)
        steps = []
        for s in range(STEPS):
            lr = lrs[s] if lrs is not None else kw["lr"]
            for group in opt.param_groups:
                group["lr"] = lr
            p.grad = step_grads[s].clone()
            opt.step()
            st = opt.state[p]
            buffers = {k: floats(v) for k, v in sorted(st.items())
                       if torch.is_tensor(v) and v.numel() == N}
            step_count = st.get("step")
            steps.append({
                "lr": lr,
                "grads": floats(step_grads[s]),
                "params_after": floats(p),
                "step": None if step_count is None else int(float(step_count)),
                "buffers": buffers,
            })
        options = {CAMEL[k]: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
        cases.append({
            "name": name,
            "torch": f"torch.optim.{cls}({', '.join(f'{k}={v!r}' for k, v in kw.items())}, foreach=False)",
            "config": {"kind": KIND[cls], **options},
            "params_before": floats(p0),
            "steps": steps,
        })

    doc = {
        "format": "lstm-optim-reference",
        "format_version": 1,
        "description": "torch.optim trajectories on one float64 parameter vector with explicit "
                       "per-step gradients; each step sets param_groups[0]['lr'] = steps[i].lr, "
                       "assigns p.grad = steps[i].grads, calls opt.step(); params_after and "
                       "buffers (opt.state[p]) are recorded after the step.",
        "generator": {
            "script": "scripts/make_optim_reference.py",
            "seed": SEED,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "num_params": N,
        "num_steps": STEPS,
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")
    # The repository checks formatting with prettier (`npm run format:check`); prettier only
    # changes whitespace and number spelling (1e-06 -> 1e-6), never a value.
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    try:
        subprocess.run(["npx", "prettier", "--write", OUT], cwd=root, check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"warning: could not run prettier on {OUT}: {e}", file=sys.stderr)
    with open(OUT) as f:
        assert json.load(f) == doc, "prettier changed a value"
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes, {len(cases)} cases)",
          file=sys.stderr)
    assert all(math.isfinite(x) for c in cases for s in c["steps"] for x in s["params_after"])


if __name__ == "__main__":
    main()
