"""Bring your own reward model: train a tiny torch reward MLP outside the
explorer, export it to ONNX, open it on a world, audit it, patch what the audit
finds, and export the corrected reward as ONNX that any runtime can serve.

    python examples/own_reward_model.py [--world cube] [--out DIR] [--small]

The reward model here is the usual discriminator reward: an MLP classifier of
the world's expert samples against uniform states, reward = its probability.
Nothing about it comes from the explorer except the expert samples; the
explorer only sees the ONNX file. ``--small`` (or EXPLORER_EXAMPLE_SMALL=1)
runs it in seconds for CI.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import worlds
from explorer import Session
from explorer.model.onnx_export import export_onnx
from explorer.refine.sculpting import refusals


def train_reward_mlp(states_expert: np.ndarray, lo: np.ndarray, hi: np.ndarray, steps: int,
                     seed: int = 0) -> torch.nn.Module:
    """Someone else's reward model: expert samples vs uniform states, balanced BCE."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    neg = rng.uniform(lo, hi, size=(2000, len(lo))).astype(np.float32)
    x = torch.as_tensor(np.concatenate([states_expert, neg]))
    y = torch.cat([torch.ones(len(states_expert)), torch.zeros(len(neg))])
    w = torch.cat([torch.full((len(states_expert),), 0.5 / len(states_expert)),
                   torch.full((len(neg),), 0.5 / len(neg))])
    net = torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                              torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        logit = net(x).squeeze(-1)
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(logit, y, reduction="none") * w).sum()
        loss.backward()
        opt.step()
    return torch.nn.Sequential(net, torch.nn.Sigmoid()).eval()


def export_torch(net: torch.nn.Module, path: Path) -> None:
    """torch -> ONNX with a dynamic batch: the graph maps (n, 3) -> (n, 1)."""
    program = torch.onnx.export(net, (torch.zeros(4, 3),), dynamic_shapes=({0: torch.export.Dim("n")},),
                                input_names=["states"], output_names=["reward"], dynamo=True, verbose=False)
    program.save(str(path))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--world", default="cube")
    p.add_argument("--out", help="directory for the files (default: a new temporary directory)")
    p.add_argument("--small", action="store_true", default=os.environ.get("EXPLORER_EXAMPLE_SMALL") == "1")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out or tempfile.mkdtemp(prefix="explorer-onnx-"))
    out.mkdir(parents=True, exist_ok=True)
    world = worlds.load(args.world)

    # 1. Outside the explorer: train and export.
    net = train_reward_mlp(world.expert_samples(), world.bounds_min, world.bounds_max,
                           steps=150 if args.small else 1500)
    onnx_path = out / "my_reward.onnx"
    export_torch(net, onnx_path)
    (out / "my_reward.json").write_text(json.dumps({"world": world.name, "output": {"kind": "reward",
                                                                                     "range": [0.0, 1.0]}}))
    # 2. Open it: checked, served, audited (the session the window uses).
    s = Session.from_model(onnx_path)
    before = s.reward().copy()
    flaws_before = int(s.land.flaw_mask(before).sum())
    audit = s.audit()
    print(f"opened {onnx_path.name} on {world.name}: {flaws_before} flaws, "
          f"{len(audit.findings)} findings in {audit.clusters} regions")
    for f in audit.cluster_representatives()[:3]:
        print(f"  ({', '.join(f'{v:+.2f}' for v in f.center)}) r={f.radius:.2f}: {f.reason}")
    for op, why in refusals(s.model).items():
        print(f"  {op}: {why}")
    # 3. Patch what the audit found (one unattended flywheel turn, top 4 findings).
    cycle = s.cycle(accept="top:4")
    patched = s.model
    print(f"cycle: {'released v' + str(patched.version) if cycle.released else 'not released'}; flaws "
          f"{cycle.check.get('flaws_before', '-')} -> {cycle.check.get('flaws_after', '-')}, regression check "
          f"{'passed' if cycle.check.get('passed') else 'failed'}" + "".join(f"; {m}" for m in cycle.messages))
    s.save_artifact(out / "artifact", overwrite=True)
    # 4. Export the corrected reward and serve it with plain onnxruntime.
    corrected = out / "corrected_reward.onnx"
    _, report = export_onnx(patched, world, corrected, random_states=1000 if args.small else 10_000)
    session = ort.InferenceSession(str(corrected), providers=["CPUExecutionProvider"])
    probe = world.expert_samples()[:3]
    served = session.run(["reward"], {"states": probe})[0]
    worst = max(report.max_abs_diff_grid, report.max_abs_diff_random)
    print(f"exported {corrected.name}: max |onnxruntime - explorer| {worst:.2g}; "
          f"reward on three expert samples: {', '.join(f'{v:.3f}' for v in served)}")
    return {"flaws_before": flaws_before, "findings": len(audit.findings),
            "released": cycle.released, "check": cycle.check, "export": report.to_dict(), "out": str(out)}


if __name__ == "__main__":
    main()
    sys.exit(0)
